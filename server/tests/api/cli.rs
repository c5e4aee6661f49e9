//! The `attest` binary's operator commands, against the database of a running server.

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
};
use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

fn attest(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_attest"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ATTEST_ENV", "sandbox")
        .env("ATTEST_DATA_DIR", &app.config.data_dir)
        .env("DATABASE_URL", app.config.database_url())
        .env("ATTEST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("attest binary runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "attest failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

async fn operator_commands_work_on_a_running_server(engine: Engine) {
    let app = TestApp::spawn(engine).await;

    let created = stdout(&attest(&app, &["admin", "create-workspace", "--name", "Acme Mail Co."], None));
    assert!(created.contains("slug acme-mail-co"), "{created}");

    let user = stdout(&attest(
        &app,
        &["admin", "create-user", "--email", "Ada@Acme.test", "--workspace", "acme-mail-co", "--role", "admin", "--password-stdin"],
        Some("a long enough password\n"),
    ));
    assert!(user.contains("ada@acme.test") && !user.contains("password (shown once)"), "{user}");
    assert_eq!(app.login(&app.client, "ada@acme.test", "a long enough password").await.status(), 200, "the running server accepts the new user");

    let generated = stdout(&attest(&app, &["admin", "create-user", "--email", "rex@acme.test", "--workspace", "acme-mail-co", "--role", "reviewer"], None));
    let password = generated.lines().find_map(|l| l.strip_prefix("password (shown once): ")).expect("printed once");
    assert_eq!(app.login(&app.new_client(), "rex@acme.test", password).await.status(), 200);

    let token_out = stdout(&attest(&app, &["admin", "create-token", "--workspace", "acme-mail-co", "--name", "ci", "--expires-in-days", "30"], None));
    let token = token_out.trim_end().lines().last().unwrap();
    assert!(token.starts_with("att_test_") && !token.contains(' '), "the token alone on the last line: {token_out}");
    let response = app.client.get(app.url("/api/v1/identity/verifications")).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200, "the running server accepts the new token");
}
both_engines!(operator_commands_work_on_a_running_server);

async fn bad_operator_input_is_refused_clearly(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let cases: [(&[&str], &str); 4] = [
        (&["admin", "create-workspace", "--name", "Acme", "--slug", "Not A Slug"], "slug"),
        (&["admin", "create-user", "--email", "ada@acme.test", "--workspace", "missing", "--role", "admin"], "No workspace has the slug 'missing'"),
        (&["admin", "create-user", "--email", "ada@acme.test", "--workspace", "x", "--role", "wizard"], "unknown role"),
        (&["admin", "create-token", "--workspace", "missing", "--name", "ci"], "No workspace has the slug 'missing'"),
    ];
    for (args, message) in cases {
        let output = attest(&app, args, None);
        assert!(!output.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    stdout(&attest(&app, &["admin", "create-workspace", "--name", "Acme", "--slug", "acme"], None));
    let duplicate = attest(&app, &["admin", "create-workspace", "--name", "Acme", "--slug", "acme"], None);
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("The slug 'acme' is already taken."));
    let short = attest(&app, &["admin", "create-user", "--email", "a@acme.test", "--workspace", "acme", "--role", "viewer", "--password-stdin"], Some("short"));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
}
both_engines!(bad_operator_input_is_refused_clearly);

#[tokio::test]
async fn bad_configuration_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 3] = [
        ("ATTEST_ADDR", "not-an-address", "ATTEST_ADDR"),
        ("ATTEST_ENV", "staging", "ATTEST_ENV"),
        ("DATABASE_URL", "mysql://localhost/attest", "DATABASE_URL"),
    ];
    for (key, value, named) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_attest")).arg("migrate").env("ATTEST_DATA_DIR", dir.path()).env(key, value).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{key}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{stderr}");
    }
}

#[tokio::test]
async fn a_failed_migration_stops_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let run =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_attest")).args(args).env("ATTEST_DATA_DIR", dir.path()).env_remove("DATABASE_URL").output().unwrap();
    assert!(run(&["migrate"]).status.success());
    // Tamper with an applied migration's checksum: start-up must refuse, not carry on.
    let db = app::store::Db::connect(&format!("sqlite://{}/attest.db", dir.path().display())).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $1").bind(vec![0u8; 48]).execute(db.pool()).await.unwrap();
    db.close().await;
    let output = run(&["serve", "--addr", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("database migration failed"));
}
