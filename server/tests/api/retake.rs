//! Retake (issue 16, SPEC §10): a reviewer or the API asks for a new document of one role
//! from `needs_review`; the applicant's upload replaces that document only, and submit
//! processes the verification again. Documents read `processing` while the pipeline
//! works on them, and a document that failed a rule carries the reason itself.

use crate::{
    both_engines,
    helpers::{jpeg, pdf, Api, Engine, TestApp},
};
use serde_json::{json, Value};

/// The declared address (with the default manual-review policy a blacklisted address
/// leaves a `sandbox-approve` applicant in `needs_review`).
const ADDRESS: &str = "12 MAIN ST, SPRINGFIELD, IL 62701";

fn body() -> Value {
    json!({
        "reference": "retake",
        "applicant": {
            "first_name": "Ada", "last_name": "sandbox-approve", "date_of_birth": "1990-12-10",
            "address": { "line1": "12 Main Street", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" }
        },
        "photo_id": { "type": "drivers_license", "country": "US", "number": "D123-4567-8901" },
        "proof_of_address": { "type": "lease", "country": "US" }
    })
}

async fn workspace_id(app: &TestApp, slug: &str) -> String {
    sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = $1").bind(slug).fetch_one(app.db.pool()).await.unwrap()
}

async fn blacklist(app: &TestApp, slug: &str, entries: &[&str]) {
    let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
    app::flows::service::save_blacklist(&app.db, &workspace_id(app, slug).await, &entries, &app::access::Actor::Operator).await.unwrap();
}

fn upload_path(id: &str) -> String {
    format!("/usps1583/verifications/{id}/documents")
}

/// A verification of `api`'s workspace left in `needs_review` by the pipeline
/// (`address_blacklisted` failed); the app runs without workers (`run_pending`).
async fn in_review(app: &TestApp, api: &Api<'_>, slug: &str) -> String {
    blacklist(app, slug, &[ADDRESS]).await;
    let id = api.create("usps1583", body()).await;
    for (kind, file) in [("drivers_license", jpeg()), ("lease", pdf()), ("selfie", jpeg())] {
        let (status, doc) = api.upload(&upload_path(&id), &[("type", kind), ("country", "US")], vec![("file", file)]).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, submitted) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200, "{submitted}");
    app.run_pending().await;
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["status"], "needs_review", "{v:#}");
    id
}

fn request_path(id: &str) -> String {
    format!("/usps1583/verifications/{id}/request-document")
}

fn document_of<'v>(v: &'v Value, role: &str) -> &'v Value {
    v["documents"].as_array().unwrap().iter().find(|d| d["role"] == role && d["status"] != "canceled").unwrap_or_else(|| panic!("a live {role}: {v:#}"))
}

async fn history(api: &Api<'_>, id: &str) -> Vec<Value> {
    let (status, history) = api.get(&format!("/usps1583/verifications/{id}/history")).await;
    assert_eq!(status, 200, "{history}");
    history["data"].as_array().unwrap().clone()
}

/// The events of `document_id` in the history, in order.
fn document_events(history: &[Value], document_id: &str) -> Vec<String> {
    history.iter().filter(|h| h["document_id"] == document_id).map(|h| h["event"].as_str().unwrap().to_string()).collect()
}

/// The happy path: the blamed proof of address is asked for again, replaced (the old one
/// kept as `canceled`), and the resubmitted verification is processed again and approved.
async fn a_bad_document_is_retaken_without_losing_the_case(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let id = in_review(&app, &api, "acme").await;
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    // The failed rule is carried by the document it is about; the document stays read.
    let old_poa = document_of(&v, "proof_of_address").clone();
    assert_eq!((old_poa["status"].as_str(), old_poa["failure_reason"].as_str()), (Some("extracted"), Some("address_blacklisted")), "{v:#}");
    assert_eq!(document_of(&v, "photo_id")["failure_reason"], Value::Null);
    // Each document was `processing` (committed) before it was read.
    let before = history(&api, &id).await;
    for doc in v["documents"].as_array().unwrap() {
        assert_eq!(document_events(&before, doc["id"].as_str().unwrap()), ["document.uploaded", "document.processing", "document.extracted"]);
    }

    let (status, requested) = api.post(&request_path(&id), json!({ "role": "proof_of_address", "reason": "The lease is cut off at the bottom." })).await;
    assert_eq!(status, 200, "{requested}");
    assert_eq!(requested["status"], "resubmission_requested");
    assert_eq!(requested["requested_documents"][0]["role"], "proof_of_address");
    assert_eq!(requested["requested_documents"][0]["reason"], "The lease is cut off at the bottom.");
    let payload: String = sqlx::query_scalar("SELECT payload FROM events WHERE object_id = $1 AND type = 'verification.resubmission_requested'")
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let payload: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!((payload["data"]["role"].as_str(), payload["data"]["reason"].as_str()), (Some("proof_of_address"), Some("The lease is cut off at the bottom.")));
    assert_eq!(payload["data"]["object"]["status"], "resubmission_requested");

    // Nothing but the requested role, and no submit before it is in.
    let (status, refused) = api.upload(&upload_path(&id), &[("type", "selfie"), ("country", "US")], vec![("file", jpeg())]).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("proof_of_address"), "{refused}");
    let (status, early) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 409, "{early}");
    assert!(early["message"].as_str().unwrap().contains("proof_of_address"), "{early}");

    blacklist(&app, "acme", &[]).await;
    let (status, new_poa) = api.upload(&upload_path(&id), &[("type", "lease"), ("country", "US")], vec![("file", pdf())]).await;
    assert_eq!(status, 201, "{new_poa}");
    let (_, docs) = api.get(&upload_path(&id)).await;
    let docs = docs["data"].as_array().unwrap().clone();
    assert_eq!(docs.len(), 4, "the replaced document is kept: {docs:#?}");
    let status_of = |doc_id: &Value| docs.iter().find(|d| d["id"] == *doc_id).unwrap()["status"].clone();
    assert_eq!((status_of(&old_poa["id"]), status_of(&new_poa["id"])), (json!("canceled"), json!("uploaded")));
    let file = format!("{}/{}/file?side=front", upload_path(&id), old_poa["id"].as_str().unwrap());
    let status = app.client.get(api.url(&file)).bearer_auth(&api.token).send().await.unwrap().status();
    assert_eq!(status, 200, "the replaced document's file is kept");

    let (status, resubmitted) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!((status, resubmitted["status"].as_str()), (200, Some("submitted")), "{resubmitted}");
    assert_eq!(resubmitted["requested_documents"], json!([]));
    app.run_pending().await;
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["status"], "approved", "the rules ran again over the current documents: {v:#}");
    assert_eq!(document_of(&v, "proof_of_address")["id"], new_poa["id"]);
    assert!(
        v["documents"].as_array().unwrap().iter().filter(|d| d["status"] != "canceled").all(|d| d["status"] == "approved" && d["failure_reason"].is_null()),
        "{v:#}"
    );

    let after = history(&api, &id).await;
    assert_eq!(
        document_events(&after, old_poa["id"].as_str().unwrap()),
        ["document.uploaded", "document.processing", "document.extracted", "document.canceled"]
    );
    assert_eq!(
        document_events(&after, new_poa["id"].as_str().unwrap()),
        ["document.uploaded", "document.processing", "document.extracted", "document.approved"],
        "only the new document is read again"
    );
    let canceled = after.iter().find(|h| h["event"] == "document.canceled").unwrap();
    assert_eq!(canceled["data"]["replaced_by"], new_poa["id"]);
    let transitions: Vec<(String, String)> = after
        .iter()
        .filter(|h| h["document_id"].is_null() && h["data"]["to"].is_string())
        .map(|h| (h["event"].as_str().unwrap().to_string(), h["data"]["to"].as_str().unwrap().to_string()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("verification.submitted", "submitted"),
        ("verification.needs_review", "needs_review"),
        ("verification.resubmission_requested", "resubmission_requested"),
        ("verification.submitted", "submitted"),
        ("verification.approved", "approved"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(transitions, expected);
}
both_engines!(a_bad_document_is_retaken_without_losing_the_case);

/// Only `needs_review` takes a request (409 otherwise, like the other lifecycle
/// conflicts), with a role the flow uses and a reason; a token without
/// `decisions:write` is 403 and another workspace's verification 404.
async fn a_retake_is_refused_outside_review_scope_and_workspace(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let id = in_review(&app, &api, "acme").await;

    for (body, field) in [
        (json!({ "role": "passport", "reason": "x" }), "role"),
        (json!({ "reason": "x" }), "role"),
        (json!({ "role": "selfie" }), "reason"),
        (json!({ "role": "selfie", "reason": "x".repeat(501) }), "reason"),
    ] {
        let (status, refused) = api.post(&request_path(&id), body.clone()).await;
        assert_eq!(status, 422, "{body}: {refused}");
        assert!(refused["errors"][field].is_array(), "{body}: {refused}");
    }

    let limited = app::access::tokens::create_with_scopes(
        &app.db,
        app.config.environment,
        "acme",
        "limited",
        None,
        Some("verifications:read,verifications:write,documents:read"),
        &app::access::Actor::Operator,
    )
    .await
    .unwrap()
    .token;
    let (status, _) = split(
        app.client.post(api.url(&request_path(&id))).bearer_auth(&limited).json(&json!({ "role": "selfie", "reason": "Blurred." })).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 403, "decisions:write is needed");

    let other = app.api("globex").await;
    let (status, _) = other.post(&request_path(&id), json!({ "role": "selfie", "reason": "Blurred." })).await;
    assert_eq!(status, 404, "another workspace's verification");

    let (status, v) = api.post(&format!("/usps1583/verifications/{id}/decision"), json!({ "decision": "approved", "reason": "Checked by hand." })).await;
    assert_eq!(status, 200, "{v}");
    let (status, refused) = api.post(&request_path(&id), json!({ "role": "selfie", "reason": "Blurred." })).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused, json!({ "message": "The verification is not awaiting review." }));

    // A verification waiting for its retake can still be canceled.
    let second = in_review(&app, &api, "acme").await;
    let (status, _) = api.post(&request_path(&second), json!({ "role": "selfie", "reason": "Eyes closed." })).await;
    assert_eq!(status, 200);
    let (status, canceled) = api.post(&format!("/usps1583/verifications/{second}/cancel"), json!({})).await;
    assert_eq!((status, canceled["status"].as_str()), (200, Some("canceled")), "{canceled}");
}
both_engines!(a_retake_is_refused_outside_review_scope_and_workspace);

async fn split(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Concurrent requests on one verification: exactly one moves it, the others are 409
/// (the status is checked in the UPDATE itself, not only before it).
async fn concurrent_retake_requests_move_the_verification_once(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let id = in_review(&app, &api, "acme").await;
    let roles = ["photo_id", "proof_of_address", "selfie", "photo_id", "selfie", "proof_of_address"];
    let path = request_path(&id);
    let calls = roles.iter().map(|role| api.post(&path, json!({ "role": role, "reason": "Unreadable." })));
    let results = futures::future::join_all(calls).await;
    let statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{results:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), roles.len() - 1, "{results:?}");
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE object_id = $1 AND type = 'verification.resubmission_requested'")
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(events, 1);
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["requested_documents"].as_array().unwrap().len(), 1, "{v:#}");
}
both_engines!(concurrent_retake_requests_move_the_verification_once);

/// The dashboard's "Request new document" runs the same service under
/// verifications.decide: a reviewer may, a viewer may not.
async fn reviewers_request_a_retake_from_the_dashboard_viewers_cannot(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let id = in_review(&app, &api, "acme").await;
    let [viewer, reviewer, _owner] = app.viewer_reviewer_owner().await;
    let form = [("slug", "acme"), ("id", id.as_str()), ("role", "selfie"), ("reason", "The face is in shadow.")];
    let (status, _) = app.rpc(&viewer, "request_document", &form).await;
    assert_eq!(status, 403, "a viewer may not request a retake");
    let page = reviewer.get(app.url(&format!("/w/acme/verifications/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Request new document"), "the control is on a needs_review verification's page");
    let (status, body) = app.rpc(&reviewer, "request_document", &form).await;
    assert_eq!(status, 200, "{body}");
    let (_, detail) = app.rpc(&reviewer, "verification_detail", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(detail["verification"]["status"], "resubmission_requested");
    assert_eq!(detail["verification"]["requested_documents"][0]["role"], "selfie");
    let last = detail["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["event"].as_str(), last["actor_type"].as_str()), (Some("verification.resubmission_requested"), Some("user")));
    let page = reviewer.get(app.url(&format!("/w/acme/verifications/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("resubmission requested") && page.contains("The face is in shadow."), "the page says what was asked for");
}
both_engines!(reviewers_request_a_retake_from_the_dashboard_viewers_cannot);
