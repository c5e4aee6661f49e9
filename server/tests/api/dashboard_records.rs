//! Dashboard records of issue #16: editing webhook endpoints and flow rules, creating a
//! verification, who acted in decisions and history, where every action came from, and
//! the webhooks a verification's history records.

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

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let response = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).bind(bind).fetch_one(app.db.pool()).await.unwrap()
}

async fn a_webhook_edit_from_the_dashboard_follows_the_api_rules_and_permission(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let admin = signed_in(&app, "admin@acme.test", Role::Admin).await;
    let viewer = signed_in(&app, "viewer@acme.test", Role::Viewer).await;
    let (status, created) = api.post("/webhook-endpoints", json!({ "url": "https://example.com/a" })).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();

    let edit = [
        ("slug", "acme"),
        ("endpoint_id", id.as_str()),
        ("url", "https://example.com/b"),
        ("description", "CRM"),
        ("events[0]", "verification.approved"),
        ("events[1]", "verification.rejected"),
    ];
    let (status, body) = app.rpc(&admin, "update_webhook", &edit).await;
    assert_eq!(status, 200, "{body}");
    let (_, endpoint) = api.get(&format!("/webhook-endpoints/{id}")).await;
    assert_eq!(endpoint["url"], "https://example.com/b");
    assert_eq!(endpoint["description"], "CRM");
    assert_eq!(endpoint["event_types"], json!(["verification.approved", "verification.rejected"]));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM activity WHERE action = 'webhook.endpoint_updated' AND target = $1", &id).await, 1);

    // The API's URL rules: no private addresses, no unknown events.
    let mut private = edit.to_vec();
    private[2] = ("url", "http://10.1.2.3/hook");
    let (status, body) = app.rpc(&admin, "update_webhook", &private).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("private"), "{body}");
    let mut unknown = edit.to_vec();
    unknown[4] = ("events[0]", "verification.exploded");
    assert_eq!(app.rpc(&admin, "update_webhook", &unknown).await.0, 422);
    // No events ticked: every event.
    let (status, _) = app.rpc(&admin, "update_webhook", &edit[..4]).await;
    assert_eq!(status, 200);
    assert_eq!(api.get(&format!("/webhook-endpoints/{id}")).await.1["event_types"], json!(["*"]));

    // The page shows the edit form with the endpoint's current values, to managers only.
    let html = page(&app, &admin, "/w/acme/webhooks").await;
    assert!(html.contains(r#"action="/rpc/update_webhook""#) && html.contains(r#"value="https://example.com/b""#), "edit form shown");
    let seen = viewer.get(app.url("/w/acme/webhooks")).send().await.unwrap().text().await.unwrap();
    assert!(!seen.contains("/rpc/update_webhook"), "no edit form for a viewer");

    // A viewer cannot, and the endpoint is unchanged.
    let mut takeover = edit.to_vec();
    takeover[2] = ("url", "https://attacker.example/hook");
    assert_eq!(app.rpc(&viewer, "update_webhook", &takeover).await.0, 403);
    assert_eq!(api.get(&format!("/webhook-endpoints/{id}")).await.1["url"], "https://example.com/b");
    // Another workspace's endpoint is not found.
    let other = app.api("globex").await;
    let (_, theirs) = other.post("/webhook-endpoints", json!({ "url": "https://globex.example/hook" })).await;
    let mut cross = takeover.to_vec();
    cross[1] = ("endpoint_id", theirs["id"].as_str().unwrap());
    assert_eq!(app.rpc(&admin, "update_webhook", &cross).await.0, 404);
}
both_engines!(a_webhook_edit_from_the_dashboard_follows_the_api_rules_and_permission);

async fn flow_rules_and_country_restrictions_are_edited_on_the_settings_page(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = signed_in(&app, "admin@acme.test", Role::Admin).await;
    let developer = signed_in(&app, "dev@acme.test", Role::Developer).await;
    let api = app.api("acme").await;
    let (_, before) = api.get("/usps1583/document-types").await;
    let form = [
        ("slug", "acme"),
        ("flow", "usps1583"),
        ("settings[photo_id_types]", "passport, drivers_license"),
        ("settings[proof_of_address_types]", "lease"),
        ("settings[require_proof_of_address]", "on"),
        ("settings[selfie_threshold]", "0.5"),
        ("settings[on_pass]", "auto_approve"),
        ("settings[on_fail]", "manual_review"),
        ("settings[country_restrictions]", "drivers_license: US\npassport: us, ca"),
        ("settings[rules_shown]", "1"),
        ("settings[enabled_rules][0]", "name_mismatch"),
        ("settings[enabled_rules][1]", "country_mismatch"),
        ("settings[enabled_rules][2]", "document_type_mismatch"),
        ("settings[enabled_rules][3]", "document_number_mismatch"),
        ("settings[enabled_rules][4]", "date_of_birth_mismatch"),
        ("settings[enabled_rules][5]", "document_expired"),
        ("settings[enabled_rules][6]", "address_blacklisted"),
    ];
    let (status, body) = app.rpc(&admin, "save_flow_settings", &form).await;
    assert_eq!(status, 200, "{body}");
    let (_, types) = api.get("/usps1583/document-types").await;
    assert_eq!(
        types["country_restrictions"],
        json!([{ "type": "drivers_license", "allowed_countries": ["US"] }, { "type": "passport", "allowed_countries": ["CA", "US"] }])
    );
    assert_eq!(types["disabled_rules"], json!(["selfie_mismatch"]));
    // The new pair is enforced: a British passport is now refused.
    let (status, body) = api.post("/usps1583/verifications", usps_body()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["errors"]["photo_id.country"].is_array() || body.to_string().contains("passport"), "{body}");

    let html = page(&app, &admin, "/w/acme/settings").await;
    assert!(html.contains("passport: CA, US"), "the restrictions as saved, editable");
    assert!(html.contains(r#"name="settings[enabled_rules][7]" value="selfie_mismatch""#), "a switch per rule");

    // A form without the rule switches leaves them alone.
    let (status, _) = app.rpc(&admin, "save_flow_settings", &form[..9]).await;
    assert_eq!(status, 200);
    assert_eq!(api.get("/usps1583/document-types").await.1["disabled_rules"], json!(["selfie_mismatch"]));

    let mut bad = form.to_vec();
    bad[8] = ("settings[country_restrictions]", "passport: usa");
    let (status, body) = app.rpc(&admin, "save_flow_settings", &bad).await;
    assert_eq!(status, 422);
    assert!(body.to_string().contains("alpha-2"), "{body}");
    bad[8] = ("settings[country_restrictions]", "passport US");
    assert_eq!(app.rpc(&admin, "save_flow_settings", &bad).await.0, 422);
    let mut unknown = form.to_vec();
    unknown.push(("settings[enabled_rules][7]", "approve_everything"));
    assert_eq!(app.rpc(&admin, "save_flow_settings", &unknown).await.0, 200, "an unknown rule name switches nothing on");

    // settings.manage only: a developer cannot switch the rules off.
    let mut all_off = form[..10].to_vec();
    all_off[8] = ("settings[country_restrictions]", "");
    assert_eq!(app.rpc(&developer, "save_flow_settings", &all_off).await.0, 403);
    assert_ne!(api.get("/usps1583/document-types").await.1["disabled_rules"].as_array().unwrap().len(), 8);
    assert_ne!(before["country_restrictions"], json!([]));
}
both_engines!(flow_rules_and_country_restrictions_are_edited_on_the_settings_page);

/// The create form as the browser posts it, with `fields` replacing the defaults.
fn create_form<'a>(fields: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = [
        ("flow", "usps1583"),
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("date_of_birth", "1990-12-10"),
        ("email", "ada@example.com"),
        ("line1", "12 Main St"),
        ("city", "Springfield"),
        ("state", "IL"),
        ("postal_code", "62701"),
        ("country", "US"),
        ("reference", "desk-7"),
        ("photo_id_type", "passport"),
        ("photo_id_country", "GB"),
        ("proof_of_address_type", "lease"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in fields {
        match form.iter_mut().find(|(key, _)| key == k) {
            Some(entry) => entry.1 = v.to_string(),
            None => form.push((k.to_string(), v.to_string())),
        }
    }
    let mut posted = vec![("slug".to_string(), "acme".to_string())];
    posted.extend(form.into_iter().map(|(k, v)| (format!("verification[{k}]"), v)));
    posted
}

async fn create(app: &TestApp, client: &reqwest::Client, fields: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let form = create_form(fields);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app.rpc(client, "create_verification", &pairs).await
}

async fn a_verification_created_from_the_dashboard_needs_verifications_manage(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let developer = signed_in(&app, "dev@acme.test", Role::Developer).await;
    let viewer = signed_in(&app, "viewer@acme.test", Role::Viewer).await;

    let (status, id) = create(&app, &developer, &[]).await;
    assert_eq!(status, 200, "{id}");
    let id = id.as_str().unwrap().to_string();
    let (status, created) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "started");
    assert_eq!(created["reference"], "desk-7");
    assert_eq!(created["applicant"]["address"]["city"], "Springfield");
    assert_eq!(created["proof_of_address"], json!({ "type": "lease", "country": "US" }));

    // A plain form post lands on the new verification's page.
    let form = create_form(&[("reference", "desk-8")]);
    let response = developer
        .post(app.url("/rpc/create_verification"))
        .header("Accept", "text/html")
        .header("Sec-Fetch-Site", "same-origin")
        .header("Referer", app.url("/w/acme/verifications"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(response.status().is_redirection(), "{}", response.status());
    assert!(location.starts_with("/w/acme/verifications/ver_"), "{location}");

    // Bad input: every field's error, nothing created.
    let (status, body) = create(&app, &developer, &[("first_name", ""), ("date_of_birth", "10/12/1990"), ("photo_id_country", "Britain")]).await;
    assert_eq!(status, 422, "{body}");
    let text = body.to_string();
    for field in ["applicant.first_name", "applicant.date_of_birth", "photo_id.country"] {
        assert!(text.contains(field), "{field} named: {body}");
    }
    let (status, _) = create(&app, &developer, &[("flow", "teleport")]).await;
    assert_eq!(status, 422);
    // The same refusals as the API: a forbidden pair.
    assert_eq!(create(&app, &developer, &[("photo_id_type", "drivers_license"), ("photo_id_country", "CA")]).await.0, 422);

    // The form is on the queue for managers only.
    assert!(page(&app, &developer, "/w/acme/verifications").await.contains(r#"action="/rpc/create_verification""#));
    assert!(!page(&app, &viewer, "/w/acme/verifications").await.contains("/rpc/create_verification"));

    // A viewer cannot create one.
    assert_eq!(create(&app, &viewer, &[("reference", "viewer")]).await.0, 403);
    let (_, list) = api.get("/usps1583/verifications").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "{list}");
}
both_engines!(a_verification_created_from_the_dashboard_needs_verifications_manage);

async fn decisions_and_history_name_the_acting_user_not_an_id(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let reviewer = signed_in(&app, "reviewer@acme.test", Role::Reviewer).await;
    let developer = signed_in(&app, "dev@acme.test", Role::Developer).await;
    let (_, id) = create(&app, &developer, &[]).await;
    let id = id.as_str().unwrap().to_string();
    sqlx::query("UPDATE verifications SET status = 'needs_review' WHERE id = $1").bind(&id).execute(app.db.pool()).await.unwrap();
    let (status, body) = app.rpc(&reviewer, "decide_verification", &[("slug", "acme"), ("id", &id), ("decision", "rejected"), ("reason", "blurred")]).await;
    assert_eq!(status, 200, "{body}");

    let (status, detail) = app.rpc(&reviewer, "verification_detail", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["verification"]["decision"]["by"], "reviewer@acme.test", "{detail}");
    let history = detail["history"].as_array().unwrap();
    let created = history.iter().find(|h| h["event"] == "verification.created").unwrap();
    assert_eq!(created["actor_email"], "dev@acme.test");
    let rejected = history.iter().find(|h| h["event"] == "verification.rejected").unwrap();
    assert_eq!(rejected["actor_email"], "reviewer@acme.test");
    // The page itself says who, never the id.
    let page = reviewer.get(app.url(&format!("/w/acme/verifications/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("by reviewer@acme.test"), "the decision names the reviewer");
    assert!(!page.contains("by user:usr_"), "no user ids as actors");

    // The API's history carries the e-mail too; a token's entries have none.
    let (_, api_history) = api.get(&format!("/usps1583/verifications/{id}/history")).await;
    let entries = api_history["data"].as_array().unwrap();
    let rejected = entries.iter().find(|h| h["event"] == "verification.rejected").unwrap();
    assert_eq!((rejected["actor_type"].as_str(), rejected["actor_email"].as_str()), (Some("user"), Some("reviewer@acme.test")));
}
both_engines!(decisions_and_history_name_the_acting_user_not_an_id);

async fn every_dashboard_and_api_action_logs_its_client_address_and_user_agent(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let admin = signed_in(&app, "admin@acme.test", Role::Admin).await;
    // A dashboard action (server function) and an API write.
    let response = admin
        .post(app.url("/rpc/save_blacklist"))
        .header("Accept", "application/json")
        .header("Sec-Fetch-Site", "same-origin")
        .header("User-Agent", "Mozilla/5.0 (dashboard)")
        .form(&[("slug", "acme"), ("addresses", "1 Elm St")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = api.create("usps1583", usps_body()).await;
    let response = app
        .client
        .post(api.url(&format!("/usps1583/verifications/{id}/cancel")))
        .bearer_auth(&api.token)
        .header("User-Agent", "acme-crm/2.1")
        // Not believed: no trusted proxy is configured.
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT action, ip, user_agent FROM activity WHERE action IN ('settings.blacklist_updated', 'verification.created', 'verification.canceled')",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (action, ip, _) in &rows {
        assert_eq!(ip.as_deref(), Some("127.0.0.1"), "{action}: the client's address");
    }
    let agent = |action: &str| rows.iter().find(|r| r.0 == action).and_then(|r| r.2.clone());
    assert_eq!(agent("settings.blacklist_updated").as_deref(), Some("Mozilla/5.0 (dashboard)"));
    assert_eq!(agent("verification.canceled").as_deref(), Some("acme-crm/2.1"));
}
both_engines!(every_dashboard_and_api_action_logs_its_client_address_and_user_agent);

async fn a_trusted_proxy_forwards_the_client_address_to_the_activity_log(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_TRUSTED_PROXIES", "127.0.0.0/8")]).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let response = app
        .client
        .post(api.url(&format!("/usps1583/verifications/{id}/cancel")))
        .bearer_auth(&api.token)
        .header("X-Forwarded-For", "1.2.3.4, 203.0.113.9")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ip: Option<String> = sqlx::query_scalar("SELECT ip FROM activity WHERE action = 'verification.canceled'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(ip.as_deref(), Some("203.0.113.9"), "the right-most untrusted hop, not the forged one");
}
both_engines!(a_trusted_proxy_forwards_the_client_address_to_the_activity_log);

async fn the_history_records_each_webhook_sent_and_each_that_failed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let receiver = crate::support::Receiver::start();
    let (ok_id, _) = crate::webhooks::endpoint(&api, &receiver.url("/ok"), json!(["verification.canceled"])).await;
    // Nothing listens on the discard port: connection refused.
    let (down_id, _) = crate::webhooks::endpoint(&api, "http://127.0.0.1:9/hook", json!(["verification.canceled"])).await;
    let id = api.create("usps1583", usps_body()).await;
    api.post(&format!("/usps1583/verifications/{id}/cancel"), json!({})).await;

    let mut entries = Vec::new();
    for _ in 0..200 {
        let (_, history) = api.get(&format!("/usps1583/verifications/{id}/history")).await;
        entries = history["data"].as_array().cloned().unwrap_or_default();
        if entries.iter().any(|h| h["event"] == "webhook.delivered") && entries.iter().any(|h| h["event"] == "webhook.failed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let delivered = entries.iter().find(|h| h["event"] == "webhook.delivered").unwrap_or_else(|| panic!("no webhook.delivered: {entries:?}"));
    assert_eq!(delivered["data"]["endpoint_id"], ok_id.as_str());
    assert_eq!(delivered["data"]["event_type"], "verification.canceled");
    assert_eq!(delivered["data"]["response_status"], 204);
    assert_eq!(delivered["actor_type"], "system");
    assert!(delivered["data"].get("url").is_none(), "the endpoint's URL (which may hold a credential) stays in the delivery log");
    let failed = entries.iter().find(|h| h["event"] == "webhook.failed").unwrap_or_else(|| panic!("no webhook.failed: {entries:?}"));
    assert_eq!(failed["data"]["endpoint_id"], down_id.as_str());
    assert_eq!(failed["data"]["failure_class"], "connection_refused");
    assert_eq!(failed["data"]["will_retry"], true);
    // Written with the attempt it describes.
    let attempts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = $1")
            .bind(&down_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    let recorded = entries.iter().filter(|h| h["event"] == "webhook.failed").count() as i64;
    assert!(recorded >= 1 && recorded <= attempts, "{recorded} entries, {attempts} attempts");
}
both_engines!(the_history_records_each_webhook_sent_and_each_that_failed);
