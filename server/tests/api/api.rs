//! The `/api/v1` surface of the skeleton: authentication first, then JSON 404s.

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
};
use app::access::{tokens, Actor};

async fn token_for(app: &TestApp, slug: &str) -> tokens::CreatedToken {
    app.seed_member(slug, &format!("owner@{slug}.test"), "a long enough password", app::access::Role::Owner).await;
    tokens::create(&app.db, app.config.environment, slug, "tests", None, &Actor::Operator).await.unwrap()
}

async fn unauthenticated_calls_get_401_with_the_exact_body(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let cases = [None, Some("Bearer att_test_unknown"), Some("Basic dXNlcjpwYXNz"), Some("Bearer ")];
    for authorization in cases {
        let mut request = app.client.get(app.url("/api/v1/usps1583/verifications"));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.json::<serde_json::Value>().await.unwrap(), serde_json::json!({ "message": "Unauthenticated." }));
    }
}
both_engines!(unauthenticated_calls_get_401_with_the_exact_body);

async fn a_valid_token_reaches_the_api_and_unknown_paths_are_json_404s(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let created = token_for(&app, "acme").await;
    assert!(created.token.starts_with("att_test_"), "sandbox tokens say so: {}", created.token);
    let list = app.client.get(app.url("/api/v1/usps1583/verifications")).bearer_auth(&created.token).send().await.unwrap();
    assert_eq!(list.status(), 200);
    for path in ["/api/v1/nope", "/api/v1/identity/verifications/ver_x", "/api/v2/usps1583/verifications", "/api/"] {
        let response = app.client.get(app.url(path)).bearer_auth(&created.token).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.json::<serde_json::Value>().await.unwrap(), serde_json::json!({ "message": "Not found." }));
    }
}
both_engines!(a_valid_token_reaches_the_api_and_unknown_paths_are_json_404s);

async fn revoked_and_expired_tokens_are_refused_at_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let revoked = token_for(&app, "acme").await;
    let expired = tokens::create(&app.db, app.config.environment, "acme", "old", Some(1), &Actor::Operator).await.unwrap();
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2").bind(app::store::now_ms()).bind(&revoked.id).execute(app.db.pool()).await.unwrap();
    sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE id = $2").bind(app::store::now_ms() - 1).bind(&expired.id).execute(app.db.pool()).await.unwrap();
    for token in [&revoked.token, &expired.token] {
        let response = app.client.get(app.url("/api/v1/identity/verifications")).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
}
both_engines!(revoked_and_expired_tokens_are_refused_at_once);

/// Tokens in use are answered from memory (SQLite): a revocation or a new rate limit made
/// by another process sharing the database (here: another connection pool, as `attest
/// admin` or a second `attest serve` would have) still takes effect on the very next call.
async fn changes_by_another_process_reach_a_warm_token_at_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let created = token_for(&app, "acme").await;
    let call = || app.client.get(app.url("/api/v1/usps1583/verifications")).bearer_auth(&created.token).send();
    for _ in 0..3 {
        assert_eq!(call().await.unwrap().status(), 200, "the token is in use (and cached)");
    }
    let other = app::store::Db::connect(app.config.database_url()).await.unwrap();
    app::workspaces::service::set_rate_limit(&other, "acme", 7, &Actor::Operator).await.unwrap();
    let response = call().await.unwrap();
    assert_eq!(response.headers()["ratelimit-limit"], "7", "the new budget applies at once");
    let workspace_id: String =
        sqlx::query_scalar("SELECT workspace_id FROM api_tokens WHERE id = $1").bind(&created.id).fetch_one(app.db.pool()).await.unwrap();
    tokens::revoke(&other, &workspace_id, &created.id, &Actor::Operator).await.unwrap();
    let response = call().await.unwrap();
    assert_eq!(response.status(), 401, "revoked elsewhere, refused here at once");
    other.close().await;
}
both_engines!(changes_by_another_process_reach_a_warm_token_at_once);

/// The flow configuration and webhook endpoints read on every create are kept in memory
/// too (SQLite); a change made by another process applies to the very next create.
async fn configuration_changed_elsewhere_applies_to_the_next_create(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let created = token_for(&app, "acme").await;
    let create = || app.client.post(app.url("/api/v1/usps1583/verifications")).bearer_auth(&created.token).json(&crate::helpers::usps_body()).send();
    assert_eq!(create().await.unwrap().status(), 201);
    assert_eq!(create().await.unwrap().status(), 201, "the configuration is in use (and cached)");
    let other = app::store::Db::connect(app.config.database_url()).await.unwrap();
    let workspace_id: String =
        sqlx::query_scalar("SELECT workspace_id FROM api_tokens WHERE id = $1").bind(&created.id).fetch_one(app.db.pool()).await.unwrap();
    let mut config = app::flows::service::load(&other, &workspace_id, app::flows::Flow::Usps1583).await.unwrap();
    config.photo_id_types.retain(|t| t != "passport");
    app::flows::service::save(&other, &workspace_id, &config, &Actor::Operator).await.unwrap();
    let refused = create().await.unwrap();
    assert_eq!(refused.status(), 422, "passports were just taken off the list: {}", refused.text().await.unwrap());

    // A webhook endpoint added elsewhere gets the next verification's event.
    let endpoint_id = app::store::ids::new_id("we");
    sqlx::query("INSERT INTO webhook_endpoints (id, workspace_id, url, description, event_types, active, secret_enc, created_at, updated_at) VALUES ($1, $2, 'http://127.0.0.1:9/hook', '', '*', 1, 'x', 0, 0)")
        .bind(&endpoint_id)
        .bind(&workspace_id)
        .execute(other.pool())
        .await
        .unwrap();
    let mut body = crate::helpers::usps_body();
    body["photo_id"] = serde_json::json!({ "type": "drivers_license", "country": "US" });
    let response = app.client.post(app.url("/api/v1/usps1583/verifications")).bearer_auth(&created.token).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let queued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1").bind(&endpoint_id).fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(queued, 1, "the new endpoint is in the fan-out at once");
    other.close().await;
}
both_engines!(configuration_changed_elsewhere_applies_to_the_next_create);

async fn tokens_are_stored_hashed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let created = token_for(&app, "acme").await;
    let stored: Vec<(String, String)> = sqlx::query_as("SELECT token_hash, display_prefix FROM api_tokens").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, created.token);
    assert_eq!(stored[0].0, tokens::hash_token(&created.token));
    assert!(created.token.starts_with(&stored[0].1));
    assert!(stored[0].1.len() < 16, "only a short prefix is kept for display");
}
both_engines!(tokens_are_stored_hashed);
