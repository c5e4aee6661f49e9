//! Attacks on the HTTP surface (issue #13, items 11 and 12): replayed or forged form
//! outcomes, framing, sniffing, caching of PII, script injection into pages, documents
//! opened as pages, and `/metrics` for anyone.

use crate::{
    both_engines,
    helpers::{jpeg, usps_body, Engine, TestApp},
};
use app::access::Role;

const PASSWORD: &str = "correct horse battery staple";

fn cookie_value(client_jar_cookie: &str) -> String {
    client_jar_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string()
}

async fn form_outcomes_are_bound_to_the_session_and_expire(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "admin@acme.test", PASSWORD, Role::Admin).await;
    let admin = app.new_client();
    let signed_in = app.login(&admin, "admin@acme.test", PASSWORD).await;
    let session =
        cookie_value(signed_in.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).find(|c| c.starts_with("attest_session=")).unwrap());
    let page = app.url("/w/acme/settings");
    let refused = admin
        .post(app.url("/rpc/save_flow_settings"))
        .header("Accept", "text/html")
        .header("Sec-Fetch-Site", "same-origin")
        .header("Referer", &page)
        .form(&[
            ("slug", "acme"),
            ("flow", "usps1583"),
            ("settings[photo_id_types]", "passport, social_security_card"),
            ("settings[proof_of_address_types]", "lease"),
            ("settings[selfie_threshold]", "0.6"),
            ("settings[on_pass]", "manual_review"),
            ("settings[on_fail]", "manual_review"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 303);
    let location = refused.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("&__err=") && location.contains("&__exp="), "{location}");
    let shown = |client: &reqwest::Client, url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap().contains("never accepted") }
    };
    assert!(shown(&admin, location.clone()).await, "the browser it was made for sees its outcome");

    // Another signed-in admin opening the same link sees nothing.
    app.seed_member("acme", "other@acme.test", PASSWORD, Role::Admin).await;
    let other = app.new_client();
    assert_eq!(app.login(&other, "other@acme.test", PASSWORD).await.status(), 200);
    assert!(!shown(&other, location.clone()).await, "a replayed link shows nothing to another session");

    // Signed correctly but expired: nothing. (The same signature with a future expiry
    // shows, so only the expiry differs.)
    let master = app.config.master_key().unwrap();
    let (base, _) = location.split_once("&__exp=").unwrap();
    let err = base.split_once("&__err=").unwrap().1.replace("%3D", "=");
    let at = |expires: i64| {
        let sig = app::forms::outcome_signature(&master, "/rpc/save_flow_settings", &err, &expires.to_string(), &session);
        format!("{base}&__exp={expires}&__sig={sig}")
    };
    let now = app::store::now_ms() / 1000;
    assert!(shown(&admin, at(now + 60)).await);
    assert!(!shown(&admin, at(now - 1)).await, "an expired outcome is not shown");
}
both_engines!(form_outcomes_are_bound_to_the_session_and_expire);

async fn pages_carry_a_strict_policy_and_are_never_cached(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "admin@acme.test", PASSWORD, Role::Admin).await;
    assert_eq!(app.login(&app.client, "admin@acme.test", PASSWORD).await.status(), 200);
    for path in ["/login", "/w/acme/verifications", "/account"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let h = response.headers().clone();
        let csp = h["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'") && csp.contains("object-src 'none'"), "{path}: {csp}");
        let script_src = csp.split(';').find(|d| d.trim().starts_with("script-src")).unwrap().to_string();
        assert!(!script_src.contains("unsafe-inline") && !script_src.contains("'unsafe-eval'"), "{script_src}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(h.get("strict-transport-security").is_none(), "no HSTS in sandbox over http");
        // The page's inline bootstrap carries the header's nonce; nothing else inline runs.
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
        let html = response.text().await.unwrap();
        assert!(html.contains(&format!("nonce=\"{nonce}\"")), "{path}");
        for tag in html.split("<script").skip(1).map(|rest| rest.split('>').next().unwrap()) {
            assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "{path}: a script without the nonce: <script{tag}>");
        }
    }
    // A second load gets a new nonce.
    let a = app.client.get(app.url("/login")).send().await.unwrap().headers()["content-security-policy"].to_str().unwrap().to_string();
    let b = app.client.get(app.url("/login")).send().await.unwrap().headers()["content-security-policy"].to_str().unwrap().to_string();
    assert_ne!(a, b);

    // API answers and document files: never cached; documents cannot run as pages.
    let api = app.api("other").await;
    let id = api.create("usps1583", usps_body()).await;
    let (status, doc) =
        api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await;
    assert_eq!(status, 201, "{doc}");
    let file = app
        .client
        .get(api.url(&format!("/usps1583/verifications/{id}/documents/{}/file", doc["id"].as_str().unwrap())))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert!(file.headers()["cache-control"].to_str().unwrap().contains("no-store"));
    assert!(file.headers()["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    let listed = app.client.get(api.url("/usps1583/verifications")).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(listed.headers()["cache-control"], "no-store");
    assert!(listed.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
}
both_engines!(pages_carry_a_strict_policy_and_are_never_cached);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_sends_hsts_and_hides_metrics_without_a_token() {
    let key = app::documents::crypto::MasterKey::generate().to_base64();
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        &[
            ("ATTEST_ENV", "production"),
            ("ATTEST_MASTER_KEY", &key),
            ("ATTEST_SMTP_URL", "smtps://user:secret@127.0.0.1:4650"),
            ("ATTEST_MFA_REQUIRED", "true"),
        ],
    )
    .await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(health.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    assert_eq!(app.client.get(app.url("/metrics")).send().await.unwrap().status(), 404, "production: no token, no metrics");
}

async fn metrics_need_the_configured_token(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_METRICS_TOKEN", "metrics-token-0123456789")]).await;
    let get = |auth: Option<&'static str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(None).await, 404);
    assert_eq!(get(Some("Bearer metrics-token-wrong-value")).await, 404);
    assert_eq!(get(Some("Bearer metrics-token-0123456789")).await, 200);
    // Without a token (sandbox), loopback clients may read it, as before.
    let open = TestApp::spawn(engine).await;
    assert_eq!(open.client.get(open.url("/metrics")).send().await.unwrap().status(), 200);
}
both_engines!(metrics_need_the_configured_token);
