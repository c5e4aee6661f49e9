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
        let skip_to = if after.starts_with("<script") { after.find("</script>").map(|i| i + 9) } else if after.starts_with("<style") { after.find("</style>").map(|i| i + 8) } else { after.find('>').map(|i| i + 1) };
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
    let env: std::collections::HashMap<String, String> = [("HOME".to_string(), "/home/ada".to_string()), ("XDG_CACHE_HOME".to_string(), "/cache".to_string())].into();
    assert_eq!(server::config::Config::from_sources(&flags, &env).unwrap().models_dir, std::path::PathBuf::from("/cache/attest/models"));
    let models = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/common.sh")).unwrap();
    assert!(models.contains(r#"ATTEST_MODELS_DIR="${ATTEST_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/attest/models}""#), "scripts/common.sh installs them there");
}
