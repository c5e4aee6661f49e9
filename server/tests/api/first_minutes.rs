//! What a newcomer meets first (issue #19): pages without stray text from mis-parsed
//! view attributes.

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
};
use app::access::Role;

const PASSWORD: &str = "correct horse battery staple";

/// The visible text of an HTML page: tags, scripts and styles dropped.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let skip_to = if after.starts_with("<script") {
            after.find("</script>").map(|i| i + 9)
        } else if after.starts_with("<style") {
            after.find("</style>").map(|i| i + 8)
        } else {
            after.find('>').map(|i| i + 1)
        };
        match skip_to {
            Some(n) => rest = &after[n..],
            None => break,
        }
        out.push(' ');
    }
    out
}

async fn the_code_page_has_no_stray_text_and_its_resend_button_waits(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_MFA_REQUIRED", "true")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    assert_eq!(app.login(&app.client, "ada@acme.test", PASSWORD).await.status(), 200);
    let html = app.client.get(app.url("/mfa")).send().await.unwrap().text().await.unwrap();
    let text = visible_text(&html);
    assert!(text.contains("Resend code (in"), "{text}");
    for stray in ["0 >", "true >", "false >", "> 0", "=>"] {
        assert!(!text.contains(stray), "stray {stray:?} in the page text: {text}");
    }
    let button = html.split("<button").find(|b| b.contains("Resend code")).unwrap();
    assert!(button.split('>').next().unwrap().contains("disabled"), "the resend button waits out its cooldown: <button{button}");
}
both_engines!(the_code_page_has_no_stray_text_and_its_resend_button_waits);

async fn a_missing_model_is_named_by_readyz_and_the_overview(engine: Engine) {
    let empty = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(engine, &[("ATTEST_MODELS_DIR", empty.path().to_str().unwrap())]).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "a missing model does not make the server unready");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["models"]["missing"], serde_json::json!(["mrz", "face"]), "{body}");
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    assert_eq!(app.login(&app.client, "ada@acme.test", PASSWORD).await.status(), 200);
    let html = app.client.get(app.url("/w/acme")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Extraction models missing on this server: mrz, face."), "the overview says so");
}
both_engines!(a_missing_model_is_named_by_readyz_and_the_overview);

#[test]
fn attest_serve_looks_for_models_where_the_scripts_put_them() {
    let flags = server::config::FlagConfig::default();
    let env: std::collections::HashMap<String, String> = [("HOME".to_string(), "/home/ada".to_string())].into();
    let config = server::config::Config::from_sources(&flags, &env).unwrap();
    assert_eq!(config.models_dir, std::path::PathBuf::from("/home/ada/.cache/attest/models"));
    let env: std::collections::HashMap<String, String> =
        [("HOME".to_string(), "/home/ada".to_string()), ("XDG_CACHE_HOME".to_string(), "/cache".to_string())].into();
    assert_eq!(server::config::Config::from_sources(&flags, &env).unwrap().models_dir, std::path::PathBuf::from("/cache/attest/models"));
    let models = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/common.sh")).unwrap();
    assert!(
        models.contains(r#"ATTEST_MODELS_DIR="${ATTEST_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/attest/models}""#),
        "scripts/common.sh installs them there"
    );
}

async fn the_sandbox_mailbox_shows_the_sign_in_code(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_MFA_REQUIRED", "true")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let login_page = app.client.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(login_page.contains("href=\"/sandbox/mailbox\""), "the sign-in page points to the mailbox");
    assert_eq!(app.login(&app.client, "ada@acme.test", PASSWORD).await.status(), 200);
    let code = app.latest_code("ada@acme.test");

    // No sign-in needed: the code is what the visitor is looking for.
    let stranger = app.new_client();
    let list = stranger.get(app.url("/sandbox/mailbox")).send().await.unwrap();
    assert_eq!(list.status(), 200);
    let list = list.text().await.unwrap();
    assert!(list.contains("Your Attest sign-in code") && list.contains("ada@acme.test"), "{list}");
    let at = list.find("/sandbox/mailbox/mail_").unwrap();
    let href: String = list[at..].chars().take_while(|c| *c != '"').collect();
    let mail = stranger.get(app.url(&href)).send().await.unwrap().text().await.unwrap();
    assert!(mail.contains(&format!("Your Attest sign-in code is {code}")), "the message shows decoded: {mail}");

    // Only outbox ids are opened.
    for id in ["../master.key", "mail_..%2F..%2Fattest", "attest.db"] {
        let (status, _) = app.rpc(&stranger, "sandbox_mail", &[("id", id)]).await;
        assert_eq!(status, 404, "{id}");
    }
}
both_engines!(the_sandbox_mailbox_shows_the_sign_in_code);

async fn mailbox_status(app: &TestApp) -> (u16, bool, bool) {
    let (status, _) = app.rpc(&app.client, "sandbox_mailbox", &[]).await;
    let page = app.client.get(app.url("/sandbox/mailbox")).send().await.unwrap().text().await.unwrap();
    let login = app.client.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    (status, page.contains("Sandbox mailbox") && !page.contains("Not found"), login.contains("/sandbox/mailbox"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_mailbox_is_refused_in_production_and_with_smtp() {
    let key = app::documents::crypto::MasterKey::generate().to_base64();
    let production = TestApp::spawn_with(
        Engine::Sqlite,
        &[("ATTEST_ENV", "production"), ("ATTEST_MASTER_KEY", &key), ("ATTEST_SMTP_URL", "smtps://u:p@127.0.0.1:4650"), ("ATTEST_MFA_REQUIRED", "true")],
    )
    .await;
    let (status, _, linked) = mailbox_status(&production).await;
    assert_eq!((status, linked), (404, false), "never in production");
    let smtp = TestApp::spawn_with(Engine::Sqlite, &[("ATTEST_SMTP_URL", "smtp://127.0.0.1:2525")]).await;
    let (status, _, linked) = mailbox_status(&smtp).await;
    assert_eq!((status, linked), (404, false), "not when mail goes to an SMTP server");
    let off = TestApp::spawn_with(Engine::Sqlite, &[("ATTEST_SANDBOX_MAILBOX", "false")]).await;
    assert_eq!(mailbox_status(&off).await.0, 404, "not when switched off");
}

#[test]
fn the_sandbox_mailbox_needs_loopback_unless_asked_for() {
    use server::config::{Config, FlagConfig};
    let flags = |addr: &str| FlagConfig { addr: Some(addr.into()), ..Default::default() };
    let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::HashMap<_, _>>();
    assert!(Config::from_sources(&flags("127.0.0.1:8080"), &env(&[])).unwrap().sandbox_mailbox_enabled());
    assert!(!Config::from_sources(&flags("0.0.0.0:8080"), &env(&[])).unwrap().sandbox_mailbox_enabled(), "not beyond loopback");
    assert!(Config::from_sources(&flags("0.0.0.0:8080"), &env(&[("ATTEST_SANDBOX_MAILBOX", "true")])).unwrap().sandbox_mailbox_enabled(), "unless asked for");
    let key = app::documents::crypto::MasterKey::generate().to_base64();
    let refused = Config::from_sources(
        &flags("127.0.0.1:8080"),
        &env(&[("ATTEST_ENV", "production"), ("ATTEST_MASTER_KEY", &key), ("ATTEST_SMTP_URL", "smtps://u:p@h:465"), ("ATTEST_SANDBOX_MAILBOX", "true")]),
    );
    assert!(refused.unwrap_err().to_string().contains("ATTEST_SANDBOX_MAILBOX"));
}

/// `attest admin seed-demo` as the operator (and `scripts/run`) runs it.
fn seed_demo(app: &TestApp) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(["admin", "seed-demo"])
        .env("ATTEST_DATA_DIR", &app.config.data_dir)
        .env("DATABASE_URL", app.config.database_url())
        .env("ATTEST_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

async fn the_demo_workspace_has_a_case_of_every_kind_decided_by_the_pipeline(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let printed = seed_demo(&app);
    assert!(printed.contains("12 sample verifications"), "{printed}");
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM verifications GROUP BY status ORDER BY status").fetch_all(app.db.pool()).await.unwrap();
    let count = |s: &str| statuses.iter().find(|(status, _)| status == s).map(|(_, n)| *n).unwrap_or(0);
    assert!(count("approved") >= 2, "{statuses:?}");
    assert_eq!(count("rejected"), 1, "{statuses:?}");
    assert!(count("needs_review") >= 5, "{statuses:?}");
    assert_eq!((count("started"), count("canceled"), count("submitted")), (1, 1, 0), "{statuses:?}");
    // Decided by the pipeline: each submitted case has its rules evaluated, and the
    // needs_review cases fail different rules; one has an unreadable document.
    let evaluated: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT verification_id) FROM history WHERE event = 'rules.evaluated'").fetch_one(app.db.pool()).await.unwrap_or(0);
    assert!(evaluated >= 9, "rules evaluated for {evaluated}");
    let rules: Vec<String> = sqlx::query_scalar("SELECT rules FROM verifications WHERE status = 'needs_review'").fetch_all(app.db.pool()).await.unwrap();
    let failed: std::collections::BTreeSet<String> = rules
        .iter()
        .flat_map(|r| serde_json::from_str::<Vec<serde_json::Value>>(&app::documents::pii::open(r).expect("sealed rules open")).unwrap_or_default())
        .filter(|r| r["result"] == "fail")
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert!(failed.len() >= 4, "different failed rules: {failed:?}");
    let unreadable: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents WHERE status = 'extraction_failed'").fetch_one(app.db.pool()).await.unwrap();
    assert!(unreadable >= 1);
    let deliveries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries").fetch_one(app.db.pool()).await.unwrap();
    assert!(deliveries >= 3, "the demo endpoint has deliveries: {deliveries}");

    // Again: nothing is added.
    let again = seed_demo(&app);
    assert!(again.contains("already"), "{again}");
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM verifications").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(total, 12);
}
both_engines!(the_demo_workspace_has_a_case_of_every_kind_decided_by_the_pipeline);
