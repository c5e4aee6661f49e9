//! Attacks on sign-in (issue #13, items 1–7 and 16): concurrent guessing against the
//! lockout and the address throttle, second-factor guessing across challenges, secrets
//! in logs, open redirects, hashing floods, the password life cycle, sliding sessions,
//! and client addresses behind a load balancer.

use crate::{
    both_engines,
    helpers::{sign_in_code, Engine, TestApp},
};
use app::access::Role;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn activity_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE action = $1").bind(action).fetch_one(app.db.pool()).await.unwrap()
}

/// `n` sign-ins at once, each from its own client; their statuses.
async fn concurrent_logins(app: &TestApp, attempts: Vec<(String, String, Option<String>)>) -> Vec<(u16, Option<String>)> {
    let calls = attempts.into_iter().map(|(email, password, forwarded_for)| {
        let client = app.new_client();
        let url = app.url("/rpc/login");
        async move {
            let mut request =
                client.post(url).header("Accept", "application/json").header("Sec-Fetch-Site", "same-origin").form(&[("email", email), ("password", password)]);
            if let Some(xff) = forwarded_for {
                request = request.header("X-Forwarded-For", xff);
            }
            let response = request.send().await.unwrap();
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (response.status().as_u16(), retry_after)
        }
    });
    futures::future::join_all(calls).await
}

async fn forty_concurrent_wrong_passwords_check_at_most_the_threshold(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_IP_THROTTLE_FAILURES", "1000")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let attempts = (0..40).map(|i| ("ada@acme.test".to_string(), format!("wrong password {i}"), None)).collect();
    let statuses = concurrent_logins(&app, attempts).await;
    assert!(statuses.iter().all(|(s, _)| *s == 401 || *s == 423 || *s == 429), "{statuses:?}");
    // Every check that ran is in the activity log: never more than the threshold (5).
    // (Past the hashing slots' queue some are answered 429 without a check.)
    let checked = activity_count(&app, "login.failed").await;
    assert!(checked <= 5, "{checked} passwords were checked against the hash");
    let refused_by_the_check_that_locked = i64::from(checked == 5);
    assert_eq!(statuses.iter().filter(|(s, _)| *s == 401).count() as i64, checked - refused_by_the_check_that_locked, "{statuses:?}");
    // Whatever the burst left, more guesses reach the lock after exactly five checks.
    for _ in 0..10 {
        app.rpc(&app.new_client(), "login", &[("email", "ada@acme.test"), ("password", "one more guess")]).await;
    }
    let checked = activity_count(&app, "login.failed").await;
    assert_eq!(checked, 5, "five checks in all, however the guesses arrive");

    // Locked now; a failure landing during the lock neither shortens nor clears it.
    let until: i64 = sqlx::query_scalar("SELECT locked_until FROM login_lockouts WHERE email = 'ada@acme.test'").fetch_one(app.db.pool()).await.unwrap();
    assert!(until > app::store::now_ms());
    assert_eq!(app.rpc(&app.new_client(), "login", &[("email", "ada@acme.test"), ("password", "still wrong")]).await.0, 423);
    assert_eq!(app.rpc(&app.new_client(), "login", &[("email", "ada@acme.test"), ("password", PASSWORD)]).await.0, 423, "even the right password waits");
    let after: i64 = sqlx::query_scalar("SELECT locked_until FROM login_lockouts WHERE email = 'ada@acme.test'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(after, until);
    assert_eq!(activity_count(&app, "login.failed").await, checked, "nothing more was checked while locked");
}
both_engines!(forty_concurrent_wrong_passwords_check_at_most_the_threshold);

async fn one_address_guessing_many_emails_is_slowed_not_shut_out(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_IP_THROTTLE_FAILURES", "3"), ("ATTEST_IP_SLOWDOWN_SECS", "2")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let attempts = (0..20).map(|i| (format!("user{i}@acme.test"), "wrong password".to_string(), None)).collect();
    let statuses = concurrent_logins(&app, attempts).await;
    let checked = activity_count(&app, "login.failed").await;
    assert!(checked <= 4, "the allowance (3) plus one slowed attempt at most: {checked}");
    let throttled: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(throttled.len() >= 16, "{statuses:?}");
    assert!(throttled.iter().all(|(_, retry)| retry.as_deref().is_some_and(|r| r.parse::<u64>().unwrap() >= 1)), "Retry-After on every refusal");
    // Slowed, not shut out: after the interval a right password from the same address works.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(app.rpc(&app.new_client(), "login", &[("email", "ada@acme.test"), ("password", PASSWORD)]).await.0, 200);
}
both_engines!(one_address_guessing_many_emails_is_slowed_not_shut_out);

async fn forwarded_for_is_believed_only_from_trusted_proxies(engine: Engine) {
    // Behind a trusted balancer: each client is throttled on its own address.
    let app =
        TestApp::spawn_with(engine, &[("ATTEST_TRUSTED_PROXIES", "127.0.0.1/32"), ("ATTEST_IP_THROTTLE_FAILURES", "3"), ("ATTEST_IP_SLOWDOWN_SECS", "600")])
            .await;
    let from = |ip: &str| Some(ip.to_string());
    let mut attempts: Vec<_> = (0..6).map(|i| (format!("u{i}@acme.test"), "wrong password".to_string(), from("203.0.113.1"))).collect();
    let first = concurrent_logins(&app, std::mem::take(&mut attempts)).await;
    assert!(first.iter().filter(|(s, _)| *s == 429).count() >= 2, "{first:?}");
    let other = concurrent_logins(&app, vec![("v@acme.test".into(), "wrong password".into(), from("203.0.113.2"))]).await;
    assert_eq!(other[0].0, 401, "another client behind the same balancer is not throttled");
    let ips: Vec<Option<String>> =
        sqlx::query_scalar("SELECT DISTINCT ip FROM activity WHERE action = 'login.failed' ORDER BY ip").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(ips, vec![Some("203.0.113.1".to_string()), Some("203.0.113.2".to_string())], "the log records clients, not the balancer");

    // Without trusted proxies the header is the client's own claim: ignored.
    let direct = TestApp::spawn(engine).await;
    concurrent_logins(&direct, vec![("w@acme.test".into(), "wrong password".into(), from("198.51.100.7"))]).await;
    let ips: Vec<Option<String>> = sqlx::query_scalar("SELECT ip FROM activity WHERE action = 'login.failed'").fetch_all(direct.db.pool()).await.unwrap();
    assert_eq!(ips, vec![Some("127.0.0.1".to_string())]);
}
both_engines!(forwarded_for_is_believed_only_from_trusted_proxies);

async fn a_flood_of_sign_ins_is_answered_429_without_queueing_hashes(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_IP_THROTTLE_FAILURES", "100000")]).await;
    let attempts = (0..120).map(|i| (format!("flood{i}@acme.test"), "wrong password".to_string(), None)).collect();
    let started = std::time::Instant::now();
    let statuses = concurrent_logins(&app, attempts).await;
    let elapsed = started.elapsed();
    assert!(statuses.iter().all(|(s, _)| *s == 401 || *s == 429), "no 5xx: {statuses:?}");
    let busy: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!busy.is_empty(), "more hashes than slots and queue are refused");
    assert!(busy.iter().all(|(_, retry)| retry.as_deref() == Some("1")));
    let hashed = activity_count(&app, "login.failed").await as usize;
    assert_eq!(hashed + busy.len(), 120);
    assert!(elapsed < std::time::Duration::from_secs(20), "the excess is answered at once: {elapsed:?}");
}
both_engines!(a_flood_of_sign_ins_is_answered_429_without_queueing_hashes);

/// Password + MFA sign-in up to the challenge, for `client`.
async fn open_challenge(app: &TestApp, client: &reqwest::Client, email: &str) {
    let (status, body) = app.rpc(client, "login", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(status, 200, "{body}");
}

async fn second_factor_guessing_across_challenges_locks_the_factor(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_MFA_REQUIRED", "true")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let mut wrong = 0;
    let mut last = (0, json!(null));
    // Each new password sign-in opens a new challenge (5 tries each): 10 wrong codes in all.
    'guessing: for _ in 0..3 {
        let client = app.new_client();
        open_challenge(&app, &client, "ada@acme.test").await;
        for _ in 0..5 {
            last = app.rpc(&client, "verify_mfa", &[("code", "000000")]).await;
            wrong += 1;
            if last.0 == 423 {
                break 'guessing;
            }
        }
    }
    assert_eq!(wrong, 10, "the tenth wrong code locks");
    assert_eq!(last, (423, json!({ "kind": "mfa_locked" })));
    assert!(app.outbox().iter().any(|m| m.contains("Subject: Your Attest sign-in is locked")), "the user is told");
    assert_eq!(activity_count(&app, "mfa.locked").await, 1);

    // A new sign-in with the right password is refused before any code is mailed.
    let mails = app.outbox().len();
    let (status, body) = app.rpc(&app.new_client(), "login", &[("email", "ada@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!((status, body), (423, json!({ "kind": "mfa_locked" })));
    assert_eq!(app.outbox().len(), mails);

    // `attest admin unlock` lifts it; the right code then signs in.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(["admin", "unlock", "--email", "ada@acme.test"])
        .env("ATTEST_DATA_DIR", &app.config.data_dir)
        .env("DATABASE_URL", app.config.database_url())
        .env("ATTEST_LOG", "warn")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("unlocked"), "{output:?}");
    let client = app.new_client();
    open_challenge(&app, &client, "ada@acme.test").await;
    let code = app.latest_code("ada@acme.test");
    assert_eq!(app.rpc(&client, "verify_mfa", &[("code", &code)]).await.0, 200);
}
both_engines!(second_factor_guessing_across_challenges_locks_the_factor);

async fn concurrent_codes_on_one_challenge_are_compared_at_most_five_times(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_MFA_REQUIRED", "true")]).await;
    let user = app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let client = app.new_client();
    open_challenge(&app, &client, "ada@acme.test").await;
    let guesses = (0..20).map(|i| {
        let client = client.clone();
        let app = &app;
        async move { app.rpc(&client, "verify_mfa", &[("code", &format!("{:06}", 100_000 + i))]).await.0 }
    });
    let statuses = futures::future::join_all(guesses).await;
    assert!(statuses.iter().all(|s| *s == 401 || *s == 410), "{statuses:?}");
    let compared: i64 = sqlx::query_scalar("SELECT mfa_failures FROM users WHERE id = $1").bind(&user).fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(compared, 5, "one challenge allows five comparisons, however many arrive at once");
}
both_engines!(concurrent_codes_on_one_challenge_are_compared_at_most_five_times);

async fn redirects_after_sign_in_stay_on_this_site(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "/caf\u{e9}",
        "/\u{7f}x",
        "https://evil.example",
        "/ok/../\r\nSet-Cookie: x=1",
    ] {
        let response = app
            .new_client()
            .post(app.url("/rpc/login"))
            .header("Accept", "application/json")
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[("email", "ada@acme.test"), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500, "{next:?}: {}", response.status());
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        // Home, which for someone with one workspace is that workspace.
        assert_eq!(location.as_deref(), Some("/w/acme"), "{next:?}");
    }
    // A same-site path is kept.
    let response = app
        .new_client()
        .post(app.url("/rpc/login"))
        .header("Accept", "application/json")
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("email", "ada@acme.test"), ("password", PASSWORD), ("next", "/w/acme/verifications?status=needs_review")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/w/acme/verifications?status=needs_review");
}
both_engines!(redirects_after_sign_in_stay_on_this_site);

async fn signing_in_lands_in_the_only_workspace(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let location = |response: reqwest::Response| response.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(location(app.login(&app.new_client(), "ada@acme.test", PASSWORD).await).as_deref(), Some("/w/acme"));
    // With two workspaces the chooser is the landing page.
    app.seed_member("beta", "ada@acme.test", PASSWORD, Role::Viewer).await;
    assert_eq!(location(app.login(&app.new_client(), "ada@acme.test", PASSWORD).await).as_deref(), Some("/"));
}
both_engines!(signing_in_lands_in_the_only_workspace);

async fn passwords_change_only_with_the_current_one_and_the_second_factor(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_MFA_REQUIRED", "true")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let sign_in = |password: &'static str| {
        let app = &app;
        async move {
            let client = app.new_client();
            let (status, _) = app.rpc(&client, "login", &[("email", "ada@acme.test"), ("password", password)]).await;
            if status != 200 {
                return (status, client);
            }
            let code = app.latest_code("ada@acme.test");
            (app.rpc(&client, "verify_mfa", &[("code", &code)]).await.0, client)
        }
    };
    let (_, ada) = sign_in(PASSWORD).await;
    let (_, elsewhere) = sign_in(PASSWORD).await;
    let new_password = "a completely different passphrase";

    let (status, body) = app.rpc(&ada, "change_password", &[("current_password", PASSWORD), ("new_password", new_password), ("code", "123456")]).await;
    assert_eq!(status, 422, "the second factor is asked for first: {body}");
    assert_eq!(app.rpc(&ada, "send_password_change_code", &[]).await.0, 200);
    let code = app.latest_code("ada@acme.test");
    let (status, body) = app.rpc(&ada, "change_password", &[("current_password", "not the password"), ("new_password", new_password), ("code", &code)]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"]["current_password"][0], "The password is not correct.");
    let (status, body) = app.rpc(&ada, "change_password", &[("current_password", PASSWORD), ("new_password", "password1234"), ("code", &code)]).await;
    assert_eq!(status, 422, "a weak password is refused: {body}");
    assert!(body["detail"]["password"][0].as_str().unwrap().contains("too easy to guess"), "{body}");
    let (status, body) = app.rpc(&ada, "change_password", &[("current_password", PASSWORD), ("new_password", new_password), ("code", &code)]).await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(app.rpc(&ada, "security_state", &[]).await.0, 200, "this session stays");
    assert_eq!(app.rpc(&elsewhere, "security_state", &[]).await.0, 401, "other sessions end");
    assert_eq!(sign_in(PASSWORD).await.0, 401, "the old password no longer works");
    assert_eq!(sign_in("a completely different passphrase").await.0, 200);
    assert!(app.outbox().iter().any(|m| m.contains("Subject: Your Attest password was changed")));
    assert_eq!(activity_count(&app, "password.changed").await, 1);
}
both_engines!(passwords_change_only_with_the_current_one_and_the_second_factor);

async fn reset_links_work_once_and_reveal_no_accounts(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let stale = app.new_client();
    assert_eq!(app.login(&stale, "ada@acme.test", PASSWORD).await.status(), 200);

    let known = app.rpc(&app.new_client(), "request_password_reset", &[("email", "Ada@acme.test")]).await;
    let unknown = app.rpc(&app.new_client(), "request_password_reset", &[("email", "nobody@acme.test")]).await;
    assert_eq!(known, unknown, "the same answer for an address without an account");
    assert_eq!(known.0, 200);
    let mail = {
        let mut found = None;
        for _ in 0..50 {
            found = app.outbox().into_iter().find(|m| m.contains("Subject: Reset your Attest password"));
            if found.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Undo quoted-printable's soft line breaks: the link may be folded.
        found.expect("a reset mail").replace("=\r\n", "").replace("=\n", "")
    };
    assert!(!app.outbox().iter().any(|m| m.contains("nobody@acme.test")));
    let at = mail.find("/reset-password/").unwrap() + "/reset-password/".len();
    let token: String = mail[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    let page = app.new_client().get(app.url(&format!("/reset-password/{token}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Choose a new password"));

    let reset = |password: &'static str| {
        let app = &app;
        let token = token.clone();
        async move { app.rpc(&app.new_client(), "reset_password", &[("token", &token), ("password", password)]).await }
    };
    assert_eq!(reset("qwertyuiop12").await.0, 422, "weak: refused, and the link still works");
    assert_eq!(reset("a fresh passphrase for ada").await.0, 200);
    assert_eq!(reset("another fresh passphrase").await.0, 400, "single use");
    assert_eq!(app.rpc(&stale, "security_state", &[]).await.0, 401, "every session ends");
    assert_eq!(app.login(&app.new_client(), "ada@acme.test", "a fresh passphrase for ada").await.status(), 200);

    // An expired link is refused.
    app.rpc(&app.new_client(), "request_password_reset", &[("email", "ada@acme.test")]).await;
    sqlx::query("UPDATE password_resets SET created_at = 0, expires_at = 1").execute(app.db.pool()).await.unwrap();
    assert_eq!(app.rpc(&app.new_client(), "reset_password", &[("token", &token), ("password", "yet another good passphrase")]).await.0, 400);
}
both_engines!(reset_links_work_once_and_reveal_no_accounts);

async fn idle_sessions_end_and_use_slides_them(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_SESSION_IDLE_MINUTES", "1")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    assert_eq!(app.login(&app.client, "ada@acme.test", PASSWORD).await.status(), 200);
    let expiry = || async { sqlx::query_scalar::<_, i64>("SELECT MAX(expires_at) FROM sessions").fetch_one(app.db.pool()).await.unwrap() };
    let first = expiry().await;
    let idle = first - app::store::now_ms();
    assert!((50_000..=61_000).contains(&idle), "one minute of idle time: {idle} ms");
    tokio::time::sleep(std::time::Duration::from_millis(6_500)).await;
    assert_eq!(app.client.get(app.url("/account")).send().await.unwrap().status(), 200);
    let slid = expiry().await;
    assert!(slid >= first + 5_000, "use moves the expiry on: {first} → {slid}");

    // Idle past the limit: the session is gone.
    sqlx::query("UPDATE sessions SET expires_at = $1").bind(app::store::now_ms() - 1).execute(app.db.pool()).await.unwrap();
    let page = app.client.get(app.url("/account")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert!(page.headers()["location"].to_str().unwrap().starts_with("/login"));
}
both_engines!(idle_sessions_end_and_use_slides_them);

/// `attest serve` as its own process, logging at debug level: no code, link token or
/// query-string secret may appear in what it writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let base = format!("http://{addr}");
    let bin = env!("CARGO_BIN_EXE_attest");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).env("ATTEST_DATA_DIR", data.path()).env("ATTEST_LOG", "warn").output().unwrap();
    assert!(run(&["admin", "create-workspace", "--name", "Acme", "--slug", "acme"]).status.success());
    let mut create = std::process::Command::new(bin)
        .args(["admin", "create-user", "--email", "ada@acme.test", "--workspace", "acme", "--role", "admin", "--password-stdin"])
        .env("ATTEST_DATA_DIR", data.path())
        .env("ATTEST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    create.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    assert!(create.wait().unwrap().success());

    let log_path = data.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = std::process::Command::new(bin)
        .args(["serve", "--addr", &addr])
        .env("ATTEST_DATA_DIR", data.path())
        .env("ATTEST_LOG", "debug")
        .env("ATTEST_MFA_REQUIRED", "true")
        .env("ATTEST_SITE_ROOT", concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let rpc = |name: &str, form: Vec<(&str, String)>| {
        client.post(format!("{base}/rpc/{name}")).header("Accept", "application/json").header("Sec-Fetch-Site", "same-origin").form(&form).send()
    };
    assert_eq!(rpc("login", vec![("email", "ada@acme.test".into()), ("password", PASSWORD.into())]).await.unwrap().status(), 200);
    let outbox = data.path().join("outbox");
    let mails = || {
        let mut files: Vec<_> = std::fs::read_dir(&outbox).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect::<Vec<_>>()
    };
    let code = sign_in_code(mails().last().unwrap());
    assert!(!mails().last().unwrap().lines().any(|l| l.starts_with("Subject:") && l.contains(&code)), "the code stays out of the subject");
    assert_eq!(rpc("verify_mfa", vec![("code", code.clone())]).await.unwrap().status(), 200);
    // A reset link (its token in the path) and a secret in a query string.
    rpc("request_password_reset", vec![("email", "ada@acme.test".into())]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let reset_mail = mails().into_iter().find(|m| m.contains("/reset-password/")).expect("reset mail").replace("=\r\n", "").replace("=\n", "");
    let at = reset_mail.find("/reset-password/").unwrap() + "/reset-password/".len();
    let token: String = reset_mail[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    client.get(format!("{base}/reset-password/{token}")).send().await.unwrap();
    client.get(format!("{base}/login?next=/w/acme&secret=query-secret-value")).send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    server.kill().unwrap();
    server.wait().unwrap();

    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.contains("mail"), "the log was captured: {logged}");
    assert!(!logged.contains(&code), "the sign-in code is in the log");
    assert!(!logged.contains(&token), "the reset token is in the log");
    assert!(!logged.contains("query-secret-value"), "a query string is in the log");
}

async fn an_admin_sees_and_lifts_a_second_factor_lock(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_MFA_REQUIRED", "true")]).await;
    let ada = app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    app.seed_member("acme", "admin@acme.test", PASSWORD, Role::Admin).await;
    // Ten wrong codes over two sign-ins lock Ada's second factor.
    for _ in 0..2 {
        let client = app.new_client();
        open_challenge(&app, &client, "ada@acme.test").await;
        for _ in 0..5 {
            app.rpc(&client, "verify_mfa", &[("code", "000000")]).await;
        }
    }
    let admin = app.new_client();
    open_challenge(&app, &admin, "admin@acme.test").await;
    let code = app.latest_code("admin@acme.test");
    assert_eq!(app.rpc(&admin, "verify_mfa", &[("code", &code)]).await.0, 200);
    let (_, members) = app.rpc(&admin, "list_members", &[("slug", "acme")]).await;
    let row = members.as_array().unwrap().iter().find(|m| m["email"] == "ada@acme.test").unwrap().clone();
    assert_eq!(row["mfa_locked"], true, "the members page shows the lock: {row}");
    assert_eq!(app.rpc(&admin, "unlock_member", &[("slug", "acme"), ("user_id", &ada)]).await.0, 200);
    let client = app.new_client();
    open_challenge(&app, &client, "ada@acme.test").await;
    let code = app.latest_code("ada@acme.test");
    assert_eq!(app.rpc(&client, "verify_mfa", &[("code", &code)]).await.0, 200, "unlocked: the right code signs in");
}
both_engines!(an_admin_sees_and_lifts_a_second_factor_lock);
