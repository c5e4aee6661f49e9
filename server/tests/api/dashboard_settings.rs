//! Dashboard pages of the API issue: tokens (api_tokens.manage) and flow settings with
//! the address blacklist (settings.manage), checked on the server for every role.

use crate::{
    both_engines,
    helpers::{usps_body, Engine, TestApp},
};
use app::access::Role;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn signed_in(app: &TestApp, email: &str, role: Role) -> reqwest::Client {
    app.seed_member("acme", email, PASSWORD, role).await;
    let client = app.new_client();
    assert_eq!(app.login(&client, email, PASSWORD).await.status(), 200);
    client
}

async fn developers_manage_tokens_that_work_until_revoked(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let dev = signed_in(&app, "dev@acme.test", Role::Developer).await;
    let (status, token) = app.rpc(&dev, "create_token", &[("slug", "acme"), ("name", "CRM"), ("expires_in_days", "30")]).await;
    assert_eq!(status, 200, "{token}");
    let token = token.as_str().unwrap().to_string();
    assert!(token.starts_with("att_test_"));

    let api_call = || app.client.get(app.url("/api/v1/usps1583/verifications")).bearer_auth(&token).send();
    assert_eq!(api_call().await.unwrap().status(), 200);

    // Last use is written off the request path: allow it a moment.
    let mut list = json!(null);
    for _ in 0..50 {
        list = app.rpc(&dev, "list_tokens", &[("slug", "acme")]).await.1;
        if list[0]["last_used_at"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let listed = &list[0];
    assert_eq!(listed["name"], "CRM");
    assert_eq!(listed["created_by"], "dev@acme.test");
    assert!(listed["last_used_at"].is_string(), "last use is recorded: {listed}");
    assert!(!list.to_string().contains(&token), "the secret is never listed");
    assert!(token.starts_with(listed["prefix"].as_str().unwrap()));

    let (status, _) = app.rpc(&dev, "revoke_token", &[("slug", "acme"), ("token_id", listed["id"].as_str().unwrap())]).await;
    assert_eq!(status, 200);
    assert_eq!(api_call().await.unwrap().status(), 401, "revoked tokens are refused at once");
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM activity WHERE action LIKE 'api_token.%' ORDER BY id").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(actions, vec!["api_token.created", "api_token.revoked"]);
}
both_engines!(developers_manage_tokens_that_work_until_revoked);

async fn roles_without_the_permission_get_403(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let viewer = signed_in(&app, "viewer@acme.test", Role::Viewer).await;
    let reviewer = signed_in(&app, "reviewer@acme.test", Role::Reviewer).await;
    let developer = signed_in(&app, "dev@acme.test", Role::Developer).await;
    let forbidden = json!({ "kind": "forbidden" });
    for client in [&viewer, &reviewer] {
        assert_eq!(app.rpc(client, "list_tokens", &[("slug", "acme")]).await, (403, forbidden.clone()));
        assert_eq!(app.rpc(client, "create_token", &[("slug", "acme"), ("name", "x"), ("expires_in_days", "30")]).await, (403, forbidden.clone()));
        assert_eq!(app.rpc(client, "revoke_token", &[("slug", "acme"), ("token_id", "tok_x")]).await, (403, forbidden.clone()));
    }
    for client in [&viewer, &reviewer, &developer] {
        assert_eq!(app.rpc(client, "get_settings", &[("slug", "acme")]).await, (403, forbidden.clone()));
        assert_eq!(app.rpc(client, "save_blacklist", &[("slug", "acme"), ("addresses", "1 Main St")]).await, (403, forbidden.clone()));
    }
    let tokens: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(tokens, 0);
    app.seed_member("other", "owner@other.test", PASSWORD, Role::Owner).await;
    assert_eq!(app.rpc(&developer, "list_tokens", &[("slug", "other")]).await, (403, forbidden), "another workspace is forbidden");
    let signed_out = app.new_client();
    assert_eq!(app.rpc(&signed_out, "list_tokens", &[("slug", "acme")]).await.0, 401);
}
both_engines!(roles_without_the_permission_get_403);

async fn admins_edit_flow_settings_that_the_api_serves(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = signed_in(&app, "admin@acme.test", Role::Admin).await;
    let api = app.api("acme").await;
    let (status, settings) = app.rpc(&admin, "get_settings", &[("slug", "acme")]).await;
    assert_eq!(status, 200);
    assert_eq!(settings["flows"][0]["flow"], "usps1583");

    let form = [
        ("slug", "acme"),
        ("flow", "usps1583"),
        ("settings[photo_id_types]", "passport, drivers_license"),
        ("settings[proof_of_address_types]", "lease, utility_bill"),
        ("settings[require_proof_of_address]", "on"),
        ("settings[require_selfie]", "on"),
        ("settings[selfie_threshold]", "0.7"),
        ("settings[on_pass]", "manual_review"),
        ("settings[on_fail]", "auto_reject"),
    ];
    let (status, body) = app.rpc(&admin, "save_flow_settings", &form).await;
    assert_eq!(status, 200, "{body}");
    let (_, types) = api.get("/usps1583/document-types").await;
    assert_eq!(types["photo_id_types"], json!(["passport", "drivers_license"]));
    assert_eq!(types["proof_of_address_types"], json!(["lease", "utility_bill"]));
    assert_eq!(types["selfie_threshold"], 0.7);
    assert_eq!(types["on_fail"], "auto_reject");

    let mut body = usps_body();
    body["proof_of_address"] = json!({ "type": "utility_bill", "country": "US" });
    assert_eq!(api.post("/usps1583/verifications", body).await.0, 201, "a widened list is accepted");
    let mut refused = usps_body();
    refused["photo_id"] = json!({ "type": "state_id", "country": "US" });
    assert_eq!(api.post("/usps1583/verifications", refused).await.0, 422, "a narrowed list is enforced");

    let mut bad = form.to_vec();
    bad[2] = ("settings[photo_id_types]", "passport, social_security_card");
    let (status, body) = app.rpc(&admin, "save_flow_settings", &bad).await;
    assert_eq!(status, 422);
    assert!(body.to_string().contains("never accepted"), "{body}");

    let (status, _) = app.rpc(&admin, "save_blacklist", &[("slug", "acme"), ("addresses", "PO Box 12, Springfield IL\n\n  500   Market St  ")]).await;
    assert_eq!(status, 200);
    let (_, settings) = app.rpc(&admin, "get_settings", &[("slug", "acme")]).await;
    assert_eq!(settings["blacklist"], json!(["500 Market St", "PO Box 12, Springfield IL"]));
}
both_engines!(admins_edit_flow_settings_that_the_api_serves);

#[tokio::test]
async fn the_reference_page_lists_the_documented_operations() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let client = signed_in(&app, "dev@acme.test", Role::Developer).await;
    let (status, reference) = app.rpc(&client, "api_reference", &[]).await;
    assert_eq!(status, 200);
    let ops = reference["operations"].as_array().unwrap();
    assert!(ops.iter().any(|o| o["method"] == "POST" && o["path"] == "/api/v1/{flow}/verifications/{id}/submit"));
    assert!(ops.iter().any(|o| o["method"] == "POST" && o["path"] == "/api/v1/webhook-deliveries/{id}/resend"));
    assert!(ops.iter().any(|o| o["method"] == "GET" && o["path"] == "/api/v1/{flow}/compliance/quarterly"));
    let doc: serde_json::Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().keys().filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str())).count())
        .sum();
    assert!(documented > 30, "{documented}");
    assert_eq!(ops.len(), documented, "every documented operation is listed, none twice");
    let page = client.get(app.url("/api-reference")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("/api/v1/openapi.json"));
    // The sandbox magic values, on the page and in the OpenAPI description.
    let description = doc["info"]["description"].as_str().unwrap();
    for (name, _, _) in app::pipeline::sandbox::SCENARIOS {
        assert!(page.contains(name), "the reference page lists {name}");
        assert!(description.contains(&format!("`{name}`")), "the OpenAPI description lists {name}");
        assert!(reference["sandbox"].as_array().unwrap().iter().any(|s| s["last_name"] == name));
    }
}

/// Without JavaScript a dashboard form posts to its server function, which sends the
/// browser back to the page with the outcome in the address; the page shows it.
async fn form_posts_come_back_to_the_page_with_their_outcome(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = signed_in(&app, "admin@acme.test", Role::Admin).await;
    let page = app.url("/w/acme/settings");
    let post = |form: Vec<(&'static str, &'static str)>, referer: String| {
        admin
            .post(app.url("/rpc/save_flow_settings"))
            .header("Accept", "text/html,application/xhtml+xml")
            .header("Sec-Fetch-Site", "same-origin")
            .header("Referer", referer)
            .form(&form)
            .send()
    };
    let form = vec![
        ("slug", "acme"),
        ("flow", "usps1583"),
        ("settings[photo_id_types]", "passport, social_security_card"),
        ("settings[proof_of_address_types]", "lease"),
        ("settings[selfie_threshold]", "0.6"),
        ("settings[on_pass]", "manual_review"),
        ("settings[on_fail]", "manual_review"),
    ];
    // A refused change: back to the page (an earlier outcome dropped), the error named.
    let refused = post(form.clone(), format!("{page}?__path=%2Frpc%2Fsave_blacklist")).await.unwrap();
    assert_eq!(refused.status(), 303);
    let location = refused.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{page}?__path=/rpc/save_flow_settings&__err=")), "{location}");
    assert!(location.contains("&__sig="), "{location}");
    let html = admin.get(&location).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("never accepted"), "the page shows why");
    assert!(!html.contains("Saved."));
    // The outcome is signed: an address made up (or altered) elsewhere shows nothing.
    let forged = location.split("&__sig=").next().unwrap();
    assert!(!admin.get(forged).send().await.unwrap().text().await.unwrap().contains("never accepted"));
    assert!(!admin.get(format!("{page}?__path=/rpc/save_flow_settings")).send().await.unwrap().text().await.unwrap().contains("Saved."));

    // A good one: back to the page, which says it is saved.
    let mut good = form;
    good[2] = ("settings[photo_id_types]", "passport");
    let saved = post(good, location).await.unwrap();
    assert_eq!(saved.status(), 303);
    let location = saved.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{page}?__path=/rpc/save_flow_settings&__exp=")), "{location}");
    let html = admin.get(&location).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Saved."), "the page confirms");
    assert!(!html.contains("never accepted"));
    let (_, settings) = app.rpc(&admin, "get_settings", &[("slug", "acme")]).await;
    assert_eq!(settings["flows"][0]["photo_id_types"], json!(["passport"]));

    // Called from script (JSON accepted), the same failure is a plain 422.
    let (status, _) = app
        .rpc(
            &admin,
            "save_flow_settings",
            &[
                ("slug", "acme"),
                ("flow", "usps1583"),
                ("settings[photo_id_types]", "social_security_card"),
                ("settings[proof_of_address_types]", ""),
                ("settings[selfie_threshold]", "0.6"),
                ("settings[on_pass]", "manual_review"),
                ("settings[on_fail]", "manual_review"),
            ],
        )
        .await;
    assert_eq!(status, 422);
}
both_engines!(form_posts_come_back_to_the_page_with_their_outcome);

async fn the_activity_log_filters_by_actor_action_target_and_time(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = signed_in(&app, "admin@acme.test", Role::Admin).await;
    let (_, token) = app.rpc(&admin, "create_token", &[("slug", "acme"), ("name", "CRM"), ("expires_in_days", "30")]).await;
    assert!(token.is_string());
    let (_, list) = app.rpc(&admin, "list_tokens", &[("slug", "acme")]).await;
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(app.rpc(&admin, "revoke_token", &[("slug", "acme"), ("token_id", &id)]).await.0, 200);

    let actions = |filters: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let mut form = vec![("slug".to_string(), "acme".to_string())];
            form.extend(filters.into_iter().map(|(k, v)| (format!("filters[{k}]"), v)));
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let (status, body) = app.rpc(&admin, "list_activity", &form).await;
            (status, body.as_array().map(|a| a.iter().map(|e| e["action"].as_str().unwrap().to_string()).collect::<Vec<_>>()).unwrap_or_default())
        }
    };
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).format("%Y-%m-%d").to_string();

    assert_eq!(actions(vec![("target", id.clone())]).await.1, vec!["api_token.revoked", "api_token.created"]);
    assert_eq!(actions(vec![("target", id[..6].to_string()), ("action", "api_token.rev".into())]).await.1, vec!["api_token.revoked"]);
    assert_eq!(actions(vec![("target", "tok_nothing".into())]).await.1, Vec::<String>::new());
    assert_eq!(actions(vec![("actor", "ADMIN@acme".into()), ("action", "api_token".into())]).await.1.len(), 2);
    assert_eq!(actions(vec![("from", day(0)), ("to", day(0)), ("action", "api_token".into())]).await.1.len(), 2, "today's entries");
    assert!(actions(vec![("from", day(1))]).await.1.is_empty(), "nothing from tomorrow on");
    assert!(actions(vec![("to", day(-1))]).await.1.is_empty(), "nothing until yesterday");
    assert_eq!(actions(vec![("from", "26/11/2026".into())]).await.0, 422, "a date that is not YYYY-MM-DD is refused");
}
both_engines!(the_activity_log_filters_by_actor_action_target_and_time);
