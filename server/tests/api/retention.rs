//! Retention and redaction (issue 17, part B): redaction leaves nothing readable behind
//! (the database's columns read directly, the blob store's files on disk), a legal hold
//! refuses it, the daily run on a clock the test controls redacts only what is due, the
//! permission checks, and `verification.redacted` delivered to a real receiver.

use crate::{
    both_engines,
    helpers::{jpeg, Api, Engine, TestApp},
    support::Receiver,
    webhooks::endpoint,
};
use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};

/// What must not survive a redaction (compared in lower case).
const NEEDLES: [&str; 7] = ["zenobia", "sandbox-approve", "1987-06-15", "l555-0199-7731", "41 quarry lane", "zenobia@example.com", "+1 555 0142"];

fn body(pmb: &str) -> Value {
    json!({
        "reference": format!("ret-{pmb}"),
        "applicant": {
            "first_name": "Zenobia", "last_name": "sandbox-approve", "date_of_birth": "1987-06-15",
            "email": "zenobia@example.com", "phone": "+1 555 0142",
            "address": { "line1": "41 Quarry Lane", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" }
        },
        "photo_id": { "type": "drivers_license", "country": "US", "number": "L555-0199-7731" },
        "proof_of_address": { "type": "lease", "country": "US" },
        "mailbox": { "pmb": pmb, "opened_on": "2026-01-05" }
    })
}

/// An approved usps1583 record for PMB `pmb` (uploads, submit, the pipeline run here).
async fn approved(api: &Api<'_>, pmb: &str) -> String {
    let id = api.create("usps1583", body(pmb)).await;
    for kind in ["drivers_license", "lease", "selfie"] {
        let (status, doc) = api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", "US")], vec![("file", jpeg())]).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, v) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    api.app.run_pending().await;
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["status"], "approved", "{v:#}");
    id
}

async fn close(api: &Api<'_>, id: &str, day: &str) {
    let (status, v) = api.patch(&format!("/usps1583/verifications/{id}"), json!({ "mailbox": { "closed_on": day } })).await;
    assert_eq!(status, 200, "{v}");
}

/// Every stored text that can carry personal data, read straight from the database:
/// `(table.column, value)` for each value containing one of [`NEEDLES`].
async fn leftovers(app: &TestApp) -> Vec<(String, String)> {
    const COLUMNS: [(&str, &str); 20] = [
        ("verifications", "applicant"),
        ("verifications", "photo_id"),
        ("verifications", "mailbox"),
        ("verifications", "metadata"),
        ("verifications", "rules"),
        ("verifications", "search_name"),
        ("verifications", "search_name_rev"),
        ("verifications", "search_email"),
        ("verifications", "decision_reason"),
        ("documents", "extracted"),
        ("documents", "failure_reason"),
        ("history", "data"),
        ("events", "payload"),
        ("webhook_deliveries", "payload"),
        ("webhook_attempts", "request_body"),
        ("webhook_attempts", "response_body"),
        ("activity", "detail"),
        ("jobs", "payload"),
        ("capture_links", "redirect_url"),
        ("verifications", "requested_documents"),
    ];
    let mut found = Vec::new();
    for (table, column) in COLUMNS {
        let values: Vec<Option<String>> = sqlx::query_scalar(&format!("SELECT {column} FROM {table}")).fetch_all(app.db.pool()).await.unwrap();
        for value in values.into_iter().flatten() {
            let lower = value.to_lowercase();
            if NEEDLES.iter().any(|n| lower.contains(n)) {
                found.push((format!("{table}.{column}"), value));
            }
        }
    }
    found
}

async fn blob_keys(app: &TestApp, id: &str) -> Vec<String> {
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT front_blob, back_blob FROM documents WHERE verification_id = $1").bind(id).fetch_all(app.db.pool()).await.unwrap();
    rows.into_iter().flat_map(|(front, back)| std::iter::once(front).chain(back)).filter(|k| !k.is_empty()).collect()
}

async fn token_with(app: &TestApp, slug: &str, scopes: &str) -> String {
    app::access::tokens::create_with_scopes(&app.db, app.config.environment, slug, "limited", None, Some(scopes), &app::access::Actor::Operator)
        .await
        .unwrap()
        .token
}

async fn redaction_leaves_nothing_readable_behind_and_is_announced(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let receiver = Receiver::start();
    let (_, secret) = endpoint(&api, &receiver.url("/ok"), json!([])).await;
    receiver.trust(&[&secret]);

    // Created with an Idempotency-Key: its stored response names the applicant.
    let response = app
        .client
        .post(api.url("/usps1583/verifications"))
        .bearer_auth(&api.token)
        .header("Idempotency-Key", "create-zenobia")
        .json(&body("7"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    for kind in ["drivers_license", "lease", "selfie"] {
        let (status, _) = api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", "US")], vec![("file", jpeg())]).await;
        assert_eq!(status, 201);
    }
    api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    app.run_pending().await;
    close(&api, &id, "2026-02-01").await;
    app.run_pending().await;
    assert!(receiver.received().len() >= 5, "earlier events were delivered with the applicant's data");

    let keys = blob_keys(&app, &id).await;
    assert_eq!(keys.len(), 3);
    let documents_dir = app.config.data_dir.join("documents");
    for key in &keys {
        assert!(documents_dir.join(key).exists(), "{key} is on disk before");
    }
    assert!(!leftovers(&app).await.is_empty(), "the scan sees the applicant before the redaction");

    // Refusals: no reason, a weaker token, another workspace, a legal hold.
    let path = format!("/usps1583/verifications/{id}/redact");
    let (status, refused) = api.post(&path, json!({})).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["errors"]["reason"].is_array(), "{refused}");
    let reader = Api { app: &app, token: token_with(&app, "acme", "verifications:read documents:read decisions:write").await };
    assert_eq!(reader.post(&path, json!({ "reason": "customer asked" })).await.0, 403);
    assert_eq!(reader.post(&format!("/usps1583/verifications/{id}/legal-hold"), json!({ "hold": true })).await.0, 403);
    let stranger = app.api("globex").await;
    assert_eq!(stranger.post(&path, json!({ "reason": "customer asked" })).await.0, 404);
    assert_eq!(stranger.post(&format!("/usps1583/verifications/{id}/legal-hold"), json!({ "hold": true })).await.0, 404);

    let (status, held) = api.post(&format!("/usps1583/verifications/{id}/legal-hold"), json!({ "hold": true, "reason": "subpoena 26-114" })).await;
    assert_eq!((status, &held["legal_hold"]), (200, &json!(true)), "{held}");
    let (status, refused) = api.post(&path, json!({ "reason": "customer asked" })).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("legal hold"), "{refused}");
    assert_eq!(app::compliance::retention::redact_due(&app.db, &app.state.files, Utc::now() + Duration::days(4000)).await.unwrap(), 0, "held: never due");
    for key in &keys {
        assert!(documents_dir.join(key).exists(), "a held verification keeps its files");
    }
    let (status, released) = api.post(&format!("/usps1583/verifications/{id}/legal-hold"), json!({ "hold": false })).await;
    assert_eq!((status, &released["legal_hold"]), (200, &json!(false)));
    let (_, history) = api.get(&format!("/usps1583/verifications/{id}/history")).await;
    let events: Vec<&str> = history["data"].as_array().unwrap().iter().map(|h| h["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"verification.legal_hold_placed") && events.contains(&"verification.legal_hold_released"), "{events:?}");

    let (status, redacted) = api.post(&path, json!({ "reason": "customer asked" })).await;
    assert_eq!(status, 200, "{redacted}");
    assert_eq!((redacted["id"].as_str(), &redacted["status"]), (Some(id.as_str()), &json!("approved")));
    assert!(redacted["redacted_at"].is_string(), "{redacted}");
    assert_eq!(redacted["applicant"]["first_name"], "[redacted]");
    assert_eq!(redacted["mailbox"]["closed_on"], "2026-02-01", "dates stay");
    assert_eq!(api.post(&path, json!({ "reason": "again" })).await.0, 409, "once only");

    // Nothing readable is left: no column names the applicant, no file is left on disk.
    assert_eq!(leftovers(&app).await, Vec::<(String, String)>::new());
    let idempotent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys WHERE key = 'create-zenobia'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(idempotent, 0, "the stored response naming the applicant is gone");
    for key in &keys {
        assert!(!documents_dir.join(key).exists(), "{key} is deleted");
        assert!(app.state.files.store.get(key).await.unwrap().is_none());
    }
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    let document = v["documents"][0]["id"].as_str().unwrap();
    assert!(v["documents"][0]["extracted"].is_null(), "{v}");
    assert_eq!(api.get(&format!("/usps1583/verifications/{id}/documents/{document}/file?side=front")).await.0, 404);

    // The event, delivered: what is left of the verification, nothing more.
    app.run_pending().await;
    let got = receiver.received();
    let event = got.iter().find(|r| r["body"]["type"] == "verification.redacted").unwrap_or_else(|| panic!("no verification.redacted in {got:?}"));
    assert_eq!(event["body"]["data"]["object"]["id"], json!(id));
    assert_eq!(event["body"]["data"]["object"]["applicant"]["last_name"], "[redacted]");
}
both_engines!(redaction_leaves_nothing_readable_behind_and_is_announced);

async fn the_daily_run_redacts_only_what_is_due_on_a_controlled_clock(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;

    // The policy: 365 days by default, then 30; bad values 422, a read-only token 403.
    assert_eq!(api.get("/retention-policy").await, (200, json!({ "retention_days": 365, "default": true })));
    assert_eq!(api.put("/retention-policy", json!({ "retention_days": 0 })).await.0, 422);
    let reader = Api { app: &app, token: token_with(&app, "acme", "verifications:read").await };
    assert_eq!(reader.put("/retention-policy", json!({ "retention_days": 1 })).await.0, 403);
    assert_eq!(api.put("/retention-policy", json!({ "retention_days": 30 })).await, (200, json!({ "retention_days": 30, "default": false })));

    let closed = approved(&api, "1").await;
    close(&api, &closed, "2026-02-01").await;
    let open = approved(&api, "2").await;
    let held = approved(&api, "3").await;
    close(&api, &held, "2026-02-01").await;
    assert_eq!(api.post(&format!("/usps1583/verifications/{held}/legal-hold"), json!({ "hold": true, "reason": "litigation" })).await.0, 200);
    let canceled = api.create("usps1583", body("4")).await;
    assert_eq!(api.post(&format!("/usps1583/verifications/{canceled}/cancel"), json!({})).await.0, 200);
    let canceled_on = Utc::now();

    let redacted_at = |id: String| {
        let db = app.db.clone();
        async move { sqlx::query_scalar::<_, Option<i64>>("SELECT redacted_at FROM verifications WHERE id = $1").bind(id).fetch_one(db.pool()).await.unwrap() }
    };
    let run = |now| app::compliance::retention::redact_due(&app.db, &app.state.files, now);
    assert_eq!(run(Utc.with_ymd_and_hms(2026, 3, 2, 23, 0, 0).unwrap()).await.unwrap(), 0, "29 days after the box closed: kept");
    let due_day = Utc.with_ymd_and_hms(2026, 3, 3, 0, 30, 0).unwrap();
    assert_eq!(run(due_day).await.unwrap(), 1, "30 days after: the closed box only");
    assert_eq!(redacted_at(closed.clone()).await, Some(due_day.timestamp_millis()));
    for id in [&open, &held, &canceled] {
        assert_eq!(redacted_at(id.clone()).await, None, "{id} is kept");
    }
    // Several workers at once: each verification is redacted once.
    let later = canceled_on + Duration::days(31);
    let runs = futures::future::join_all((0..3).map(|_| run(later))).await;
    assert_eq!(runs.into_iter().map(|r| r.unwrap()).sum::<usize>(), 1, "the cancellation, 30 days on, by one of them");
    assert!(redacted_at(canceled.clone()).await.is_some());
    assert_eq!((redacted_at(open.clone()).await, redacted_at(held.clone()).await), (None, None), "an open box and a held record stay");
    let history: Vec<String> = sqlx::query_scalar("SELECT event FROM history WHERE verification_id = $1 AND event = 'verification.redacted'")
        .bind(&closed)
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert_eq!(history.len(), 1);

    // The daily schedule enqueues the retention run beside the expiry check.
    let tomorrow = Utc::now() + Duration::days(1);
    assert!(app::compliance::expiry::schedule_daily(&app.db, tomorrow).await.unwrap());
    let drained = app.run_pending().await;
    assert_eq!((drained.compliance, drained.retention), (1, 1));
}
both_engines!(the_daily_run_redacts_only_what_is_due_on_a_controlled_clock);

async fn the_dashboard_redacts_and_holds_by_permission(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", body("5")).await;
    assert_eq!(api.post(&format!("/usps1583/verifications/{id}/cancel"), json!({})).await.0, 200);
    let [viewer, reviewer, owner] = &app.viewer_reviewer_owner().await;
    let redacted_at = || async {
        sqlx::query_scalar::<_, Option<i64>>("SELECT redacted_at FROM verifications WHERE id = $1").bind(&id).fetch_one(app.db.pool()).await.unwrap()
    };

    let hold = [("slug", "acme"), ("id", id.as_str()), ("hold", "true"), ("reason", "litigation")];
    assert_eq!(app.rpc(viewer, "set_legal_hold", &hold).await.0, 403, "a viewer has no verifications.manage");
    assert_eq!(app.rpc(viewer, "redact_verification", &[("slug", "acme"), ("id", &id), ("reason", "asked")]).await.0, 403);
    let (status, body) = app.rpc(reviewer, "set_legal_hold", &hold).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.rpc(reviewer, "redact_verification", &[("slug", "acme"), ("id", &id), ("reason", "asked")]).await.0, 409, "held");
    let page = reviewer.get(app.url(&format!("/w/acme/verifications/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Under legal hold") && page.contains("Release legal hold") && !page.contains("Redact now"), "{page}");
    assert_eq!(app.rpc(reviewer, "set_legal_hold", &[("slug", "acme"), ("id", &id), ("hold", "false")]).await.0, 200);
    assert_eq!(app.rpc(reviewer, "redact_verification", &[("slug", "acme"), ("id", &id), ("reason", " ")]).await.0, 422, "a reason is required");
    assert_eq!(redacted_at().await, None);
    let (status, body) = app.rpc(reviewer, "redact_verification", &[("slug", "acme"), ("id", &id), ("reason", "the customer asked")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(redacted_at().await.is_some());
    let page = reviewer.get(app.url(&format!("/w/acme/verifications/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Redacted on") && !page.contains("Zenobia"), "{page}");

    let days = [("slug", "acme"), ("retention_days", "45")];
    assert_eq!(app.rpc(reviewer, "save_retention_settings", &days).await.0, 403, "retention needs settings.manage");
    let (status, body) = app.rpc(owner, "save_retention_settings", &days).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.get("/retention-policy").await.1["retention_days"], 45);
    let settings = owner.get(app.url("/w/acme/settings")).send().await.unwrap().text().await.unwrap();
    assert!(settings.contains("Retention (days)") && settings.contains("value=\"45\""), "{settings}");
}
both_engines!(the_dashboard_redacts_and_holds_by_permission);

/// Issue 17: dates of birth, document numbers and addresses are sealed in the database
/// (the columns read directly show none of them) and read back through the API and the
/// 1583 record; a value stored in plain text by an older version still reads, and the
/// start-up pass seals it.
async fn personal_data_is_sealed_at_rest_and_reads_back_through_the_api(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let id = approved(&api, "12").await;

    let sealed_columns = [("verifications", "applicant"), ("verifications", "photo_id"), ("verifications", "rules"), ("documents", "extracted")];
    let mut seen = 0;
    for (table, column) in sealed_columns {
        let values: Vec<Option<String>> = sqlx::query_scalar(&format!("SELECT {column} FROM {table}")).fetch_all(app.db.pool()).await.unwrap();
        for value in values.into_iter().flatten() {
            assert!(value.starts_with("pii1."), "{table}.{column} is sealed: {value}");
            let lower = value.to_lowercase();
            assert!(!NEEDLES.iter().any(|n| lower.contains(n)), "{table}.{column} shows nothing: {value}");
            seen += 1;
        }
    }
    assert!(seen >= 5, "applicant, photo ID, rules and the two documents' readings (a selfie has none): {seen}");

    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["applicant"]["date_of_birth"], "1987-06-15", "{v:#}");
    assert_eq!(v["applicant"]["address"]["line1"], "41 Quarry Lane");
    assert_eq!(v["photo_id"]["number"], "L555-0199-7731");
    assert!(v["documents"].as_array().unwrap().iter().any(|d| d["extracted"]["date_of_birth"] == "1987-06-15"), "{v:#}");
    let (status, form) = api.get(&format!("/usps1583/verifications/{id}/form-1583")).await;
    assert_eq!(status, 200, "{form}");
    assert_eq!((form["4d"].as_str(), form["4e"].as_str()), (Some("1987-06-15"), Some("41 Quarry Lane")), "{form:#}");

    // A row written in plain text by an older version reads, and the pass seals it.
    let plain = r#"{"first_name":"Zenobia","last_name":"sandbox-approve","date_of_birth":"1987-06-15","address":{"line1":"41 Quarry Lane","city":"Springfield","state":"IL","postal_code":"62701","country":"US"}}"#;
    sqlx::query("UPDATE verifications SET applicant = $1 WHERE id = $2").bind(plain).bind(&id).execute(app.db.pool()).await.unwrap();
    let (status, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!((status, v["applicant"]["date_of_birth"].as_str()), (200, Some("1987-06-15")), "{v:#}");
    let sealed = app::documents::pii::seal_plaintext_rows(&app.db, &app.state.files.master).await.unwrap();
    assert_eq!(sealed, 1, "only the plain value is sealed");
    let stored: String = sqlx::query_scalar("SELECT applicant FROM verifications WHERE id = $1").bind(&id).fetch_one(app.db.pool()).await.unwrap();
    assert!(stored.starts_with("pii1.") && !stored.contains("1987"), "{stored}");
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["applicant"]["date_of_birth"], "1987-06-15");
}
both_engines!(personal_data_is_sealed_at_rest_and_reads_back_through_the_api);
