//! The second factor: email codes (expiry, attempts, resend cooldown, single use),
//! authenticator apps (no reuse), recovery codes (single use), admin MFA reset, and
//! session id rotation after MFA.

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
};
use app::access::Role;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn mfa_app(engine: Engine) -> TestApp {
    let app = TestApp::spawn_with(engine, &[("ATTEST_MFA_REQUIRED", "true")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Admin).await;
    app
}

fn session_cookie(response: &reqwest::Response) -> String {
    response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

async fn an_emailed_code_completes_the_sign_in_once(engine: Engine) {
    let app = mfa_app(engine).await;
    let password_step = app.login(&app.client, "ada@acme.test", PASSWORD).await;
    assert_eq!(password_step.status(), 200);
    let pending_cookie = session_cookie(&password_step);
    let (status, _) = app.rpc(&app.client, "my_workspaces", &[]).await;
    assert_eq!(status, 401, "the password alone does not sign in");
    let (status, state) = app.rpc(&app.client, "mfa_state", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(state["method"], "email");
    assert_eq!(state["attempts_left"], 5);

    let code = app.latest_code("ada@acme.test");
    assert_eq!(code.len(), 6);
    let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM mfa_challenges").fetch_all(app.db.pool()).await.unwrap();
    assert!(!stored.iter().any(|h| h.contains(&code)), "the code is stored hashed");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(app.rpc(&app.client, "verify_mfa", &[("code", wrong)]).await, (401, json!({ "kind": "wrong_code" })));
    let response = app
        .client
        .post(app.url("/rpc/verify_mfa"))
        .header("Accept", "application/json")
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_ne!(session_cookie(&response), pending_cookie, "the session id is rotated after MFA");
    assert_eq!(app.rpc(&app.client, "my_workspaces", &[]).await.0, 200);
    assert_eq!(app.rpc(&app.client, "verify_mfa", &[("code", &code)]).await.0, 410, "a code works once");
    let consumed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mfa_challenges WHERE consumed_at IS NOT NULL").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(consumed, 1);
}
both_engines!(an_emailed_code_completes_the_sign_in_once);

async fn five_wrong_codes_void_the_challenge(engine: Engine) {
    let app = mfa_app(engine).await;
    app.login(&app.client, "ada@acme.test", PASSWORD).await;
    let code = app.latest_code("ada@acme.test");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        assert_eq!(app.rpc(&app.client, "verify_mfa", &[("code", wrong)]).await.0, 401);
    }
    assert_eq!(app.rpc(&app.client, "verify_mfa", &[("code", wrong)]).await, (410, json!({ "kind": "mfa_expired" })));
    assert_eq!(app.rpc(&app.client, "verify_mfa", &[("code", &code)]).await.0, 410, "even the right code is refused now");
    assert_eq!(app.rpc(&app.client, "mfa_state", &[]).await.0, 410);
}
both_engines!(five_wrong_codes_void_the_challenge);

async fn an_expired_or_missing_challenge_sends_the_user_back_to_login(engine: Engine) {
    let app = mfa_app(engine).await;
    assert_eq!(app.rpc(&app.client, "mfa_state", &[]).await, (410, json!({ "kind": "mfa_expired" })), "no sign-in in progress");
    app.login(&app.client, "ada@acme.test", PASSWORD).await;
    let code = app.latest_code("ada@acme.test");
    sqlx::query("UPDATE mfa_challenges SET expires_at = $1").bind(app::store::now_ms() - 1).execute(app.db.pool()).await.unwrap();
    assert_eq!(app.rpc(&app.client, "verify_mfa", &[("code", &code)]).await.0, 410);
    let page = app.client.get(app.url("/mfa")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Log in again"), "the page says what to do");
}
both_engines!(an_expired_or_missing_challenge_sends_the_user_back_to_login);

async fn resend_waits_sixty_seconds_and_voids_the_old_code(engine: Engine) {
    let app = mfa_app(engine).await;
    app.login(&app.client, "ada@acme.test", PASSWORD).await;
    let first = app.latest_code("ada@acme.test");
    let (status, body) = app.rpc(&app.client, "resend_mfa", &[]).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().starts_with("You can request a new code in "), "{body}");
    sqlx::query("UPDATE mfa_challenges SET last_sent_at = $1").bind(app::store::now_ms() - 61_000).execute(app.db.pool()).await.unwrap();
    assert_eq!(app.rpc(&app.client, "resend_mfa", &[]).await.0, 200);
    assert_eq!(app.outbox().len(), 2);
    let second = app.latest_code("ada@acme.test");
    if first != second {
        assert_eq!(app.rpc(&app.client, "verify_mfa", &[("code", &first)]).await.0, 401, "the old code is void");
    }
    assert_eq!(app.rpc(&app.client, "verify_mfa", &[("code", &second)]).await.0, 200);
}
both_engines!(resend_waits_sixty_seconds_and_voids_the_old_code);

/// Signs in through email MFA and enrolls an authenticator; returns (secret, recovery codes).
async fn enroll(app: &TestApp, client: &reqwest::Client) -> (String, Vec<String>) {
    app.login(client, "ada@acme.test", PASSWORD).await;
    let code = app.latest_code("ada@acme.test");
    assert_eq!(app.rpc(client, "verify_mfa", &[("code", &code)]).await.0, 200);
    let (status, body) = app.rpc(client, "begin_totp", &[("password", "not my password")]).await;
    assert_eq!(status, 422, "changing MFA settings asks for the password: {body}");
    let (status, setup) = app.rpc(client, "begin_totp", &[("password", PASSWORD)]).await;
    assert_eq!(status, 200);
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = setup["secret"].as_str().unwrap().to_string();
    let now_code = app::auth::totp::current_code_for(&secret, "ada@acme.test").unwrap();
    let (status, codes) = app.rpc(client, "confirm_totp", &[("code", &now_code)]).await;
    assert_eq!(status, 200, "{codes}");
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn authenticator_codes_sign_in_but_never_twice(engine: Engine) {
    let app = mfa_app(engine).await;
    let (secret, _) = enroll(&app, &app.client).await;
    let stored: Option<String> = sqlx::query_scalar("SELECT totp_secret_enc FROM users").fetch_one(app.db.pool()).await.unwrap();
    assert!(!stored.unwrap().contains(&secret), "the secret is sealed at rest");

    let other = app.new_client();
    app.login(&other, "ada@acme.test", PASSWORD).await;
    let (_, state) = app.rpc(&other, "mfa_state", &[]).await;
    assert_eq!(state["method"], "totp", "enrolled users answer with the app");
    let code = app::auth::totp::current_code_for(&secret, "ada@acme.test").unwrap();
    assert_eq!(app.rpc(&other, "verify_mfa", &[("code", &code)]).await.0, 401, "the code used at enrollment is not accepted again");
    // A later 30 s step (simulated by moving the last accepted step back) is accepted once.
    sqlx::query("UPDATE users SET totp_last_step = totp_last_step - 2").execute(app.db.pool()).await.unwrap();
    assert_eq!(app.rpc(&other, "verify_mfa", &[("code", &code)]).await.0, 200);
    let third = app.new_client();
    app.login(&third, "ada@acme.test", PASSWORD).await;
    assert_eq!(app.rpc(&third, "verify_mfa", &[("code", &code)]).await.0, 401, "reused code refused");
}
both_engines!(authenticator_codes_sign_in_but_never_twice);

async fn recovery_codes_work_once_each(engine: Engine) {
    let app = mfa_app(engine).await;
    let (_, codes) = enroll(&app, &app.client).await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(stored.len(), 10);
    assert!(!stored.contains(&codes[0]), "stored hashed");
    let second = app.new_client();
    app.login(&second, "ada@acme.test", PASSWORD).await;
    assert_eq!(app.rpc(&second, "verify_mfa", &[("code", &codes[0].to_uppercase())]).await.0, 200);
    let third = app.new_client();
    app.login(&third, "ada@acme.test", PASSWORD).await;
    assert_eq!(app.rpc(&third, "verify_mfa", &[("code", &codes[0])]).await.0, 401, "a recovery code works once");
    assert_eq!(app.rpc(&third, "verify_mfa", &[("code", &codes[1])]).await.0, 200);
    let (_, state) = app.rpc(&third, "security_state", &[]).await;
    assert_eq!(state["recovery_codes_left"], 8);
    assert_eq!(state["other_sessions"], 2);
    assert_eq!(app.rpc(&third, "end_other_sessions", &[]).await, (200, json!(2)));
    assert_eq!(app.rpc(&app.client, "my_workspaces", &[]).await.0, 401, "the other sessions ended");
}
both_engines!(recovery_codes_work_once_each);

async fn an_admin_reset_clears_the_authenticator_and_tells_the_member(engine: Engine) {
    let app = mfa_app(engine).await;
    let ada = app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    enroll(&app, &app.client).await;
    app.seed_member("acme", "boss@acme.test", PASSWORD, Role::Owner).await;
    let boss = app.new_client();
    app.login(&boss, "boss@acme.test", PASSWORD).await;
    let code = app.latest_code("boss@acme.test");
    app.rpc(&boss, "verify_mfa", &[("code", &code)]).await;
    assert_eq!(app.rpc(&boss, "reset_member_mfa", &[("slug", "acme"), ("user_id", &ada)]).await.0, 200);

    assert!(app.outbox().iter().any(|m| m.contains("To: ada@acme.test") && m.contains("were reset")), "the member is emailed");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(left, 0);
    assert_eq!(app.rpc(&app.client, "my_workspaces", &[]).await.0, 401, "their sessions ended");
    let again = app.new_client();
    app.login(&again, "ada@acme.test", PASSWORD).await;
    let (_, state) = app.rpc(&again, "mfa_state", &[]).await;
    assert_eq!(state["method"], "email", "the next sign-in falls back to an email code");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(["admin", "reset-mfa", "--email", "boss@acme.test"])
        .env("ATTEST_DATA_DIR", &app.config.data_dir)
        .env("DATABASE_URL", app.config.database_url())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let resets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE action = 'member.mfa_reset'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(resets, 2);
}
both_engines!(an_admin_reset_clears_the_authenticator_and_tells_the_member);

#[tokio::test]
async fn production_refuses_to_start_without_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .arg("migrate")
        .env("ATTEST_DATA_DIR", dir.path())
        .env("ATTEST_ENV", "production")
        .env("ATTEST_MASTER_KEY", app::documents::crypto::MasterKey::generate().to_base64())
        .env_remove("ATTEST_SMTP_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ATTEST_SMTP_URL"));
}
