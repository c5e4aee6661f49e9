//! The dashboard shell over HTTP: sign-in, sessions, the workspace home, guards.

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
};
use app::access::Role;

const PASSWORD: &str = "correct horse battery staple";

async fn pages_are_server_rendered_and_guarded(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let login = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let html = login.text().await.unwrap();
    assert!(html.contains("Sign in"), "the form is in the server-rendered HTML");
    assert!(html.contains("/pkg/attest.js"), "the hydration script is linked");

    let home = app.client.get(app.url("/w/acme?tab=1")).send().await.unwrap();
    assert_eq!(home.status().as_u16() / 100, 3, "signed-out visitors are redirected");
    assert_eq!(home.headers()["location"], "/login?next=/w/acme%3Ftab%3D1");

    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    assert_eq!(app.login(&app.client, "ada@acme.test", PASSWORD).await.status(), 200);
    let missing = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));
}
both_engines!(pages_are_server_rendered_and_guarded);

async fn wrong_credentials_share_one_generic_error(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let wrong_password = app.login(&app.client, "ada@acme.test", "not the password at all").await;
    let unknown_email = app.login(&app.client, "nobody@acme.test", PASSWORD).await;
    for response in [wrong_password, unknown_email] {
        assert_eq!(response.status(), 401);
        assert!(response.headers().get("set-cookie").is_none(), "no session for a failed sign-in");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, serde_json::json!({ "kind": "invalid_credentials" }));
    }
    let failures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE action = 'login.failed'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(failures, 2, "failed sign-ins are in the activity log");
}
both_engines!(wrong_credentials_share_one_generic_error);

async fn a_member_signs_in_sees_their_workspaces_and_signs_out(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    app.seed_member("other", "eve@other.test", PASSWORD, Role::Owner).await;

    let response = app.login(&app.client, "  ADA@acme.test ", PASSWORD).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let home = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("Workspace acme"), "the home lists the user's workspace");
    assert!(!html.contains("Workspace other"), "and only theirs");
    assert!(!html.contains("argon2"), "the password hash never leaves the server");

    let call = |name: &'static str, body: Vec<(&'static str, &'static str)>| {
        app.client.post(app.url(&format!("/rpc/{name}"))).header("Accept", "application/json").header("Sec-Fetch-Site", "same-origin").form(&body).send()
    };
    let mine = call("workspace", vec![("slug", "acme")]).await.unwrap();
    assert_eq!(mine.status(), 200);
    assert_eq!(mine.json::<serde_json::Value>().await.unwrap()["role"]["builtin"], "reviewer");
    let theirs = call("workspace", vec![("slug", "other")]).await.unwrap();
    assert_eq!(theirs.status(), 403, "another workspace is forbidden in the dashboard");
    let user = call("current_user", vec![]).await.unwrap().text().await.unwrap();
    assert!(user.contains("ada@acme.test") && !user.contains("argon2"), "{user}");

    let logout = call("logout", vec![]).await.unwrap();
    assert!(logout.status().is_success() || logout.status().is_redirection());
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(sessions, 0, "sign-out deletes the session server-side");
    let after = call("my_workspaces", vec![]).await.unwrap();
    assert_eq!(after.status(), 401);
}
both_engines!(a_member_signs_in_sees_their_workspaces_and_signs_out);

async fn sign_in_rotates_the_session_id(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let first = app.login(&app.client, "ada@acme.test", PASSWORD).await;
    let first_cookie = first.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(first_cookie.contains("HttpOnly") && first_cookie.contains("SameSite=Lax"), "{first_cookie}");
    let second = app.login(&app.client, "ada@acme.test", PASSWORD).await;
    let second_cookie = second.headers()["set-cookie"].to_str().unwrap().to_string();
    let id = |c: &str| c.split(';').next().unwrap().to_string();
    assert_ne!(id(&first_cookie), id(&second_cookie), "a new sign-in gets a new session id");
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(sessions, 1, "the old session id is gone");
}
both_engines!(sign_in_rotates_the_session_id);

async fn sessions_are_shared_by_server_processes(engine: Engine) {
    // A second server on the same database accepts the session the first one issued.
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    assert_eq!(app.login(&app.client, "ada@acme.test", PASSWORD).await.status(), 200);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = format!("http://{}", listener.local_addr().unwrap());
    let db = server::startup::open_database(&app.config).await.unwrap();
    let state = server::startup::app_state(&app.config, db).unwrap();
    tokio::spawn(server::startup::serve(listener, state, std::future::pending()));

    let cookie = {
        let probe = app.login(&app.client, "ada@acme.test", PASSWORD).await;
        probe.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
    };
    let other = app.new_client();
    let response = other.post(format!("{second}/rpc/current_user")).header("Cookie", &cookie).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("ada@acme.test"));
}
both_engines!(sessions_are_shared_by_server_processes);

async fn cross_site_writes_are_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    let cross_site = app
        .client
        .post(app.url("/rpc/login"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("email", "ada@acme.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let foreign_origin = app
        .client
        .post(app.url("/rpc/login"))
        .header("Origin", "https://evil.example")
        .form(&[("email", "ada@acme.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign_origin.status(), 403);
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(sessions, 0, "a refused request changes nothing");
}
both_engines!(cross_site_writes_are_refused);
