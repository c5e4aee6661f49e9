//! The processing pipeline end to end: create → upload → submit → the worker decides,
//! with history and events recorded; sandbox test data for every outcome; crash safety.

use crate::{
    both_engines,
    helpers::{jpeg, Api, Engine, TestApp},
};
use serde_json::{json, Value};
use std::time::Duration;

/// A usps1583 body for `last_name`, with a US driver's licence as photo ID.
fn body(last_name: &str) -> Value {
    json!({
        "reference": format!("pipeline-{last_name}"),
        "applicant": {
            "first_name": "Ada", "last_name": last_name, "date_of_birth": "1990-12-10",
            "address": { "line1": "12 Main Street", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" }
        },
        "photo_id": { "type": "drivers_license", "country": "US", "number": "D123-4567-8901" },
        "proof_of_address": { "type": "lease", "country": "US" }
    })
}

/// Creates, uploads the three required documents and submits; returns the id.
async fn submit_new(api: &Api<'_>, last_name: &str) -> String {
    let id = api.create("usps1583", body(last_name)).await;
    for (kind, country) in [("drivers_license", "US"), ("lease", "US"), ("selfie", "US")] {
        let (status, doc) =
            api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", country)], vec![("file", jpeg())]).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, submitted) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!((status, submitted["status"].as_str()), (200, Some("submitted")), "{submitted}");
    id
}

/// Polls until the verification leaves `submitted`.
pub async fn decided(api: &Api<'_>, id: &str) -> Value {
    for _ in 0..300 {
        let (status, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
        assert_eq!(status, 200, "{v}");
        if v["status"] != "submitted" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("verification {id} was not decided within 15 s");
}

fn failed_rules(v: &Value) -> Vec<String> {
    v["rules"].as_array().unwrap().iter().filter(|r| r["result"] == "fail").map(|r| r["name"].as_str().unwrap().to_string()).collect()
}

async fn history_events(api: &Api<'_>, id: &str) -> Vec<String> {
    let (status, history) = api.get(&format!("/usps1583/verifications/{id}/history")).await;
    assert_eq!(status, 200, "{history}");
    history["data"].as_array().unwrap().iter().map(|h| h["event"].as_str().unwrap().to_string()).collect()
}

async fn events_of(app: &TestApp, object_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT type FROM events WHERE object_id = $1 ORDER BY id").bind(object_id).fetch_all(app.db.pool()).await.unwrap()
}

async fn every_sandbox_outcome(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    // (magic last name, expected status, the one rule that fails)
    let cases: [(&str, &str, Option<&str>); 10] = [
        ("sandbox-approve", "approved", None),
        ("sandbox-name-mismatch", "needs_review", Some("name_mismatch")),
        ("sandbox-country-mismatch", "needs_review", Some("country_mismatch")),
        ("sandbox-type-mismatch", "needs_review", Some("document_type_mismatch")),
        ("sandbox-number-mismatch", "needs_review", Some("document_number_mismatch")),
        ("sandbox-dob-mismatch", "needs_review", Some("date_of_birth_mismatch")),
        ("sandbox-expired", "needs_review", Some("document_expired")),
        ("sandbox-blacklisted", "needs_review", Some("address_blacklisted")),
        ("sandbox-selfie-mismatch", "needs_review", Some("selfie_mismatch")),
        ("sandbox-extraction-failed", "needs_review", None),
    ];
    let mut ids = Vec::new();
    for (name, _, _) in &cases {
        ids.push(submit_new(&api, name).await);
    }
    for ((name, status, rule), id) in cases.iter().zip(&ids) {
        let v = decided(&api, id).await;
        assert_eq!(v["status"], *status, "{name}: {v:#}");
        assert_eq!(failed_rules(&v), rule.iter().map(|r| r.to_string()).collect::<Vec<_>>(), "{name}");
        let history = history_events(&api, id).await;
        assert!(history.contains(&"rules.evaluated".to_string()), "{name}: {history:?}");
        let event = format!("verification.{status}");
        assert!(history.contains(&event), "{name}: {history:?}");
        assert_eq!(events_of(&app, id).await.iter().filter(|e| **e == event).count(), 1, "{name}: one {event} event");
    }

    // The clean pass: every document extracted then approved, selfie scored, decided by the system.
    let approved = decided(&api, &ids[0]).await;
    assert_eq!(approved["decision"]["outcome"], "approved");
    assert_eq!(approved["decision"]["by"], "system");
    assert!(approved["selfie_match"]["score"].as_f64().unwrap() >= approved["selfie_match"]["threshold"].as_f64().unwrap());
    assert!(approved["documents"].as_array().unwrap().iter().all(|d| d["status"] == "approved"), "{approved:#}");
    let licence = approved["documents"].as_array().unwrap().iter().find(|d| d["type"] == "drivers_license").unwrap();
    assert_eq!(licence["extracted"]["last_name"], "SANDBOX-APPROVE");
    assert_eq!(licence["extracted"]["date_of_birth"], "1990-12-10");

    // The expired document shows what was expected and found.
    let expired = decided(&api, &ids[6]).await;
    let rule = expired["rules"].as_array().unwrap().iter().find(|r| r["name"] == "document_expired").unwrap();
    assert_eq!(rule["found"], "2024-01-31");
    assert!(rule["expected"].as_str().unwrap().starts_with("on or after "));

    // Extraction failure: visible on the document, with its reason.
    let failed = decided(&api, &ids[9]).await;
    let licence = failed["documents"].as_array().unwrap().iter().find(|d| d["type"] == "drivers_license").unwrap();
    assert_eq!((licence["status"].as_str(), licence["failure_reason"].as_str()), (Some("extraction_failed"), Some("barcode_not_found")));
    assert!(history_events(&api, &ids[9]).await.contains(&"document.extraction_failed".to_string()));
}
both_engines!(every_sandbox_outcome);

async fn no_face_in_the_selfie_is_its_own_reason(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = submit_new(&api, "sandbox-no-face").await;
    let v = decided(&api, &id).await;
    assert_eq!(v["status"], "needs_review");
    let selfie = v["documents"].as_array().unwrap().iter().find(|d| d["type"] == "selfie").unwrap();
    assert_eq!((selfie["status"].as_str(), selfie["failure_reason"].as_str()), (Some("extraction_failed"), Some("no_face_found")));
    // As the real pipeline: no score stored, and the selfie rule could not apply.
    assert_eq!(v["selfie_match"], Value::Null, "{v:#}");
    let rule = v["rules"].as_array().unwrap().iter().find(|r| r["name"] == "selfie_mismatch").unwrap();
    assert_eq!((rule["result"].as_str(), rule["found"].as_str()), (Some("not_applicable"), Some("no face found on the selfie")), "{rule}");
}
both_engines!(no_face_in_the_selfie_is_its_own_reason);

/// `sandbox-type-mismatch` fails `document_type_mismatch` whatever photo ID was
/// declared, in both flows (MRZ documents read as a licence, licences as the other kind).
async fn sandbox_type_mismatch_fails_for_every_photo_id_type(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let cases = [
        ("usps1583", "passport", "GB"),
        ("usps1583", "passport_card", "US"),
        ("usps1583", "nexus_card", "CA"),
        ("usps1583", "permanent_resident_card", "US"),
        ("usps1583", "state_id", "US"),
        ("usps1583", "tribal_id", "US"),
        ("identity", "national_id", "FR"),
        ("identity", "residence_permit", "DE"),
        ("identity", "drivers_license", "US"),
    ];
    let mut ids = Vec::new();
    for (flow, kind, country) in cases {
        let mut body = body("sandbox-type-mismatch");
        body["photo_id"] = json!({ "type": kind, "country": country });
        let mut uploads = vec![(kind, country), ("selfie", "US")];
        if flow == "identity" {
            body.as_object_mut().unwrap().remove("proof_of_address");
        } else {
            uploads.push(("lease", "US"));
        }
        let id = api.create(flow, body).await;
        for (t, c) in uploads {
            let (status, doc) = api.upload(&format!("/{flow}/verifications/{id}/documents"), &[("type", t), ("country", c)], vec![("file", jpeg())]).await;
            assert_eq!(status, 201, "{flow} {t}: {doc}");
        }
        let (status, submitted) = api.post(&format!("/{flow}/verifications/{id}/submit"), json!({})).await;
        assert_eq!(status, 200, "{flow} {kind}: {submitted}");
        ids.push(id);
    }
    for ((flow, kind, _), id) in cases.iter().zip(&ids) {
        let v = loop {
            let (_, v) = api.get(&format!("/{flow}/verifications/{id}")).await;
            if v["status"] != "submitted" {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(failed_rules(&v), vec!["document_type_mismatch"], "{flow} {kind}: {v:#}");
    }
}
both_engines!(sandbox_type_mismatch_fails_for_every_photo_id_type);

/// `sandbox-blacklisted` in the identity flow (no proof of address): the photo ID shows
/// the PO box, `address_blacklisted` fails and the photo ID carries the reason.
async fn sandbox_blacklisted_works_in_the_identity_flow(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let mut body = body("sandbox-blacklisted");
    body.as_object_mut().unwrap().remove("proof_of_address");
    let id = api.create("identity", body).await;
    for (t, c) in [("drivers_license", "US"), ("selfie", "US")] {
        let (status, doc) = api.upload(&format!("/identity/verifications/{id}/documents"), &[("type", t), ("country", c)], vec![("file", jpeg())]).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, submitted) = api.post(&format!("/identity/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200, "{submitted}");
    let v = loop {
        let (_, v) = api.get(&format!("/identity/verifications/{id}")).await;
        if v["status"] != "submitted" {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((v["status"].as_str(), failed_rules(&v)), (Some("needs_review"), vec!["address_blacklisted".to_string()]), "{v:#}");
    let rule = v["rules"].as_array().unwrap().iter().find(|r| r["name"] == "address_blacklisted").unwrap();
    assert!(rule["found"].as_str().unwrap().contains("PO BOX 1583"), "{rule}");
    let licence = v["documents"].as_array().unwrap().iter().find(|d| d["type"] == "drivers_license").unwrap();
    assert_eq!(licence["failure_reason"], "address_blacklisted", "{licence:#}");
}
both_engines!(sandbox_blacklisted_works_in_the_identity_flow);

/// The review queue's "failed rule" filter finds what failed, although `rules` is sealed,
/// and finds a row an older version stored in plain text once the start-up pass sealed it.
async fn the_failed_rule_filter_reads_through_sealed_rules(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let mismatch = submit_new(&api, "sandbox-name-mismatch").await;
    let clean = submit_new(&api, "sandbox-approve").await;
    let expired = submit_new(&api, "sandbox-expired").await;
    app.run_pending().await;
    let workspace_id: String = sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = 'acme'").fetch_one(app.db.pool()).await.unwrap();
    let found = |rule: &'static str| {
        let (db, workspace_id) = (app.db.clone(), workspace_id.clone());
        async move {
            let query = app::verifications::service::ListQuery { failed_rule: Some(rule.to_string()), limit: 50, ..Default::default() };
            let page = app::verifications::service::queue(&db, &workspace_id, &query).await.unwrap();
            page.data.into_iter().map(|v| v.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(found("name_mismatch").await, vec![mismatch.clone()]);
    assert_eq!(found("document_expired").await, vec![expired.clone()]);
    assert!(found("selfie_mismatch").await.is_empty());
    let stored: String = sqlx::query_scalar("SELECT rules FROM verifications WHERE id = $1").bind(&mismatch).fetch_one(app.db.pool()).await.unwrap();
    assert!(stored.starts_with("pii1."), "rules are sealed: {stored}");

    // A row from before sealing: plain rules, no failed_rules.
    let plain = r#"[{"name":"name_mismatch","result":"fail","expected":"Ada X","found":"ALEX X"}]"#;
    sqlx::query("UPDATE verifications SET rules = $1, failed_rules = NULL WHERE id = $2").bind(plain).bind(&clean).execute(app.db.pool()).await.unwrap();
    assert_eq!(found("name_mismatch").await, vec![mismatch.clone()]);
    app::documents::pii::seal_plaintext_rows(&app.db, &app.state.files.master).await.unwrap();
    let mut both = found("name_mismatch").await;
    both.sort();
    let mut expected = vec![mismatch, clean];
    expected.sort();
    assert_eq!(both, expected);
}
both_engines!(the_failed_rule_filter_reads_through_sealed_rules);

async fn the_flow_policy_can_auto_reject(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let workspace_id: String = sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = 'acme'").fetch_one(app.db.pool()).await.unwrap();
    let mut config = app::flows::FlowConfig::default_for(app::flows::Flow::Usps1583);
    config.on_fail = app::flows::OnFail::AutoReject;
    app::flows::service::save(&app.db, &workspace_id, &config, &app::access::Actor::Operator).await.unwrap();
    let id = submit_new(&api, "sandbox-dob-mismatch").await;
    let v = decided(&api, &id).await;
    assert_eq!(v["status"], "rejected", "{v:#}");
    assert_eq!(v["decision"]["reason"], "Failed checks: date_of_birth_mismatch.");
    assert!(v["documents"].as_array().unwrap().iter().all(|d| d["status"] == "rejected"));
    assert!(events_of(&app, &id).await.contains(&"verification.rejected".to_string()));
}
both_engines!(the_flow_policy_can_auto_reject);

async fn the_blacklist_uses_publication_28(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let workspace_id: String = sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = 'acme'").fetch_one(app.db.pool()).await.unwrap();
    // The declared address is "12 Main Street"; the blacklist spells it another way.
    app::flows::service::save_blacklist(&app.db, &workspace_id, &["12 MAIN ST, SPRINGFIELD, IL 62701-0001".to_string()], &app::access::Actor::Operator)
        .await
        .unwrap();
    let id = submit_new(&api, "sandbox-approve").await;
    let v = decided(&api, &id).await;
    assert_eq!(failed_rules(&v), vec!["address_blacklisted"], "{v:#}");
}
both_engines!(the_blacklist_uses_publication_28);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_sandbox_test_data() {
    let key = app::documents::crypto::MasterKey::generate().to_base64();
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        &[("ATTEST_ENV", "production"), ("ATTEST_MFA_REQUIRED", "true"), ("ATTEST_SMTP_URL", "smtp://127.0.0.1:9?tls=required"), ("ATTEST_MASTER_KEY", &key)],
    )
    .await;
    let api = app.api("acme").await;
    let (status, error) = api.post("/usps1583/verifications", body("Sandbox-Approve")).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["errors"]["applicant.last_name"], json!(["Sandbox test data is not accepted in production."]));
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM verifications").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(count, 0);

    // Nor can a real applicant be renamed into test data afterwards.
    let id = api.create("usps1583", body("Lovelace")).await;
    for renamed in [json!({ "applicant": { "last_name": "sandbox-approve" } }), json!({ "applicant": { "last_name": " SANDBOX-expired " } })] {
        let (status, error) = api.patch(&format!("/usps1583/verifications/{id}"), renamed).await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["errors"]["applicant.last_name"], json!(["Sandbox test data is not accepted in production."]));
    }
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["applicant"]["last_name"], "Lovelace", "nothing changed");
}

/// A worker that dies holding a job: its lease runs out, another worker takes the job
/// over and the verification is decided exactly once, even with two workers racing.
async fn a_crashed_workers_job_is_decided_exactly_once(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false"), ("ATTEST_JOB_LEASE_SECS", "1")]).await;
    let api = app.api("acme").await;
    let id = submit_new(&api, "sandbox-approve").await;
    // (Loading the models takes a moment: before the clock starts.)
    let state = server::startup::app_state(&app.config, app.db.clone()).unwrap();
    // The "crashed" worker leases the job for 2 s and never finishes it.
    let leased = app::jobs::lease(&app.db, "wrk_crashed", &[app::pipeline::JOB], 10, 2000).await.unwrap();
    assert_eq!(leased.len(), 1);
    // Two live workers; neither may take the job before the dead worker's lease expires.
    let workers = [tokio::spawn(server::worker::run(state.clone())), tokio::spawn(server::worker::run(state))];
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["status"], "submitted", "taken over before the lease expired");
    let v = decided(&api, &id).await;
    assert_eq!(v["status"], "approved");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let decisions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM history WHERE verification_id = $1 AND event = 'verification.approved'")
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(decisions, 1);
    assert_eq!(events_of(&app, &id).await.iter().filter(|e| *e == "verification.approved").count(), 1);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'process_verification'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(left, 0, "the job is completed");
    for w in workers {
        w.abort();
    }
}
both_engines!(a_crashed_workers_job_is_decided_exactly_once);

/// A verification canceled while its job waits is left as it is: the job runs (the pass
/// is observed, not waited for), finds it canceled and is completed without reading a
/// document or evaluating a rule.
async fn canceled_verifications_are_not_processed(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let id = submit_new(&api, "sandbox-approve").await;
    let (status, _) = api.post(&format!("/usps1583/verifications/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'process_verification'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(queued, 1, "the submit's job waits for a worker");
    let drained = app.run_pending().await;
    assert_eq!((drained.pipeline, drained.pipeline_failed), (1, 0), "the job ran once and succeeded: {drained:?}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'process_verification'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(left, 0, "and was completed");
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["status"], "canceled");
    assert!(v["rules"].as_array().unwrap().is_empty(), "{v:#}");
    assert!(v["documents"].as_array().unwrap().iter().all(|d| d["status"] == "uploaded"), "no document was read: {v:#}");
    let history = history_events(&api, &id).await;
    assert!(!history.iter().any(|e| ["document.extracted", "document.extraction_failed", "rules.evaluated"].contains(&e.as_str())), "{history:?}");
}
both_engines!(canceled_verifications_are_not_processed);

/// An extractor that cannot run (here: no MRZ model installed) is a provider error:
/// retried with backoff, and after the last attempt the document shows
/// `extraction_failed` (`provider_error`) and the verification goes to `needs_review`.
async fn provider_errors_are_retried_then_sent_to_review(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false"), ("ATTEST_MODELS_DIR", "/nonexistent/attest-models")]).await;
    let api = app.api("acme").await;
    let mut b = body("Lovelace");
    b["photo_id"] = json!({ "type": "passport", "country": "GB" });
    b["proof_of_address"] = json!({ "type": "lease", "country": "US" });
    let id = api.create("usps1583", b).await;
    for (kind, country) in [("passport", "GB")] {
        let (status, doc) = api
            .upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", country)], vec![("file", crate::helpers::png_image())])
            .await;
        assert_eq!(status, 201, "{doc}");
    }
    // The identity of the flow does not matter here: submit needs every required role.
    for (kind, country) in [("lease", "US"), ("selfie", "US")] {
        let (status, doc) = api
            .upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", country)], vec![("file", crate::helpers::png_image())])
            .await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, _) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200);
    let state = server::startup::app_state(&app.config, app.db.clone()).unwrap();

    // First attempt: the job fails and waits for its retry; nothing is decided.
    let job = app::jobs::lease(&app.db, "wrk_test", &[app::pipeline::JOB], 1, 60_000).await.unwrap().remove(0);
    let result = app::pipeline::process(&app.db, &state.files, &state.pipeline, &job, "wrk_test").await;
    assert!(result.is_err(), "a provider error asks for a retry");
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["status"], "submitted");

    // The last attempt: the failure becomes visible and the verification goes to review.
    sqlx::query("UPDATE jobs SET attempts = max_attempts - 1, leased_until = NULL, leased_by = NULL").execute(app.db.pool()).await.unwrap();
    let job = app::jobs::lease(&app.db, "wrk_test", &[app::pipeline::JOB], 1, 60_000).await.unwrap().remove(0);
    assert_eq!(job.attempts, job.max_attempts);
    app::pipeline::process(&app.db, &state.files, &state.pipeline, &job, "wrk_test").await.unwrap();
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["status"], "needs_review", "{v:#}");
    let passport = v["documents"].as_array().unwrap().iter().find(|d| d["type"] == "passport").unwrap();
    assert_eq!((passport["status"].as_str(), passport["failure_reason"].as_str()), (Some("extraction_failed"), Some("provider_error")));
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(left, 0);
}
both_engines!(provider_errors_are_retried_then_sent_to_review);

/// A one-page PDF whose media box is 200 × 200 inches: 50 bytes that ask poppler for
/// 2.5 gigapixels at the OCR resolution.
fn page_size_bomb() -> Vec<u8> {
    attest_extract::intake::one_page_pdf(14_400.0, 14_400.0)
}

/// A proof of address with a giant page is refused on the first attempt as the
/// permanent `image_too_large`, quickly, instead of poppler rendering gigabytes and the
/// failure being retried as a provider error.
async fn a_page_size_bomb_fails_once_as_image_too_large(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", body("Lovelace")).await;
    for (kind, file) in [("drivers_license", jpeg()), ("lease", page_size_bomb()), ("selfie", jpeg())] {
        let (status, doc) = api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", "US")], vec![("file", file)]).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, _) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200);
    let state = server::startup::app_state(&app.config, app.db.clone()).unwrap();

    let job = app::jobs::lease(&app.db, "wrk_test", &[app::pipeline::JOB], 1, 60_000).await.unwrap().remove(0);
    assert_eq!(job.attempts, 1);
    assert!(job.attempts < job.max_attempts, "not the last attempt: a transient failure would be retried");
    let started = std::time::Instant::now();
    let _ = app::pipeline::process(&app.db, &state.files, &state.pipeline, &job, "wrk_test").await;
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    let lease = v["documents"].as_array().unwrap().iter().find(|d| d["type"] == "lease").unwrap();
    assert_eq!((lease["status"].as_str(), lease["failure_reason"].as_str()), (Some("extraction_failed"), Some("image_too_large")), "{v:#}");
    let failures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE object_id = $1 AND type = 'document.extraction_failed'")
        .bind(lease["id"].as_str().unwrap())
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(failures, 1);
}
both_engines!(a_page_size_bomb_fails_once_as_image_too_large);

// --- Real documents, read by the real extractors ------------------------------------

/// Whether the extraction models are installed. Without them `test` is skipped (and
/// says so) on a developer's machine, and fails under `CI` or
/// `ATTEST_TEST_REQUIRE_MODELS=1` ([`attest_test_support::needs`] decides).
pub fn models_available(test: &str) -> bool {
    let installed = std::env::var("ATTEST_MODELS_DIR").is_ok_and(|d| std::path::Path::new(&d).join("face").is_dir());
    attest_test_support::needs::check(&attest_test_support::needs::MODELS, installed, test)
}

/// Generates a synthetic document set (`server/tests/fixtures/applicant.py`) into a
/// temporary directory, removed when the returned handle drops.
pub fn documents_for(spec: Value) -> tempfile::TempDir {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let faces = std::path::PathBuf::from(home).join(".cache/attest/fixtures/face");
    let fetch = std::process::Command::new("bash").arg(root.join("extract/tests/fixtures/face/fetch.sh")).arg(&faces).status().unwrap();
    assert!(fetch.success(), "fetching the public-domain face photos failed");
    let out = tempfile::tempdir().unwrap();
    let python = std::env::var("ATTEST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let status = std::process::Command::new(python)
        .arg(root.join("server/tests/fixtures/applicant.py"))
        .arg(out.path())
        .arg(&faces)
        .arg(spec.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "generating the documents failed");
    out
}

pub fn spec(overrides: Value) -> Value {
    let mut s = json!({
        "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1990-12-10", "number": "L123-4567-8901",
        "expiry": "2031-05-01", "line1": "12 Main Street", "city": "Springfield", "state": "IL", "postal_code": "62701",
        "selfie": "astronaut", "back": "barcode", "seed": 7
    });
    for (k, v) in overrides.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

/// Declares Ada Lovelace (with `declared` overrides), uploads the generated documents,
/// submits, and returns the decided verification.
async fn run_real(api: &Api<'_>, docs: &std::path::Path, declared: Value) -> Value {
    let mut b = body("Lovelace");
    b["photo_id"]["number"] = json!("L123-4567-8901");
    for (k, v) in declared.as_object().unwrap() {
        b["applicant"][k] = v.clone();
    }
    let id = api.create("usps1583", b).await;
    let read = |name: &str| std::fs::read(docs.join(name)).unwrap();
    let uploads = [
        ("drivers_license", vec![("file", read("front.jpg")), ("back", read("back.png"))]),
        ("lease", vec![("file", read("poa.pdf"))]),
        ("selfie", vec![("file", read("selfie.jpg"))]),
    ];
    for (kind, files) in uploads {
        let (status, doc) = api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", "US")], files).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, _) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200);
    decided(api, &id).await
}

fn document<'v>(v: &'v Value, kind: &str) -> &'v Value {
    v["documents"].as_array().unwrap().iter().find(|d| d["type"] == kind).unwrap()
}

async fn real_documents_decide_each_outcome(engine: Engine) {
    if !models_available(&format!("pipeline::real_documents_decide_each_outcome ({engine:?})")) {
        return;
    }
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;

    // A clean pass: barcode, proof of address and the face all agree with the applicant.
    let clean = documents_for(spec(json!({})));
    let v = run_real(&api, clean.path(), json!({})).await;
    assert_eq!(v["status"], "approved", "{v:#}");
    let licence = document(&v, "drivers_license");
    assert_eq!(licence["extracted"]["last_name"], "LOVELACE");
    assert_eq!(licence["extracted"]["date_of_birth"], "1990-12-10");
    assert_eq!(licence["extracted"]["document_number"], "L123-4567-8901");
    assert_eq!(licence["extracted"]["expiry_date"], "2031-05-01");
    assert_eq!(licence["extracted"]["issuing_jurisdiction"], "IL");
    let poa = document(&v, "lease");
    assert_eq!(poa["extracted"]["address"]["postal_code"], "62701", "{poa:#}");
    let selfie = &v["selfie_match"];
    assert!(selfie["score"].as_f64().unwrap() >= selfie["threshold"].as_f64().unwrap(), "{selfie}");

    // The licence front scanned small (640×400): the portrait is still found and matched.
    let small = documents_for(spec(json!({})));
    let front = attest_extract::image::open(small.path().join("front.jpg")).unwrap();
    front.resize_exact(640, 400, attest_extract::image::imageops::FilterType::Triangle).to_rgb8().save(small.path().join("front.jpg")).unwrap();
    let v = run_real(&api, small.path(), json!({})).await;
    assert_eq!(v["status"], "approved", "{v:#}");
    assert!(v["selfie_match"]["score"].as_f64().unwrap() >= v["selfie_match"]["threshold"].as_f64().unwrap(), "{:#}", v["selfie_match"]);

    // The applicant declared another first name than the licence carries.
    let v = run_real(&api, clean.path(), json!({ "first_name": "Grace" })).await;
    assert_eq!((v["status"].as_str(), failed_rules(&v)), (Some("needs_review"), vec!["name_mismatch".to_string()]), "{v:#}");
    let rule = v["rules"].as_array().unwrap().iter().find(|r| r["name"] == "name_mismatch").unwrap();
    assert_eq!(rule["expected"], "Grace Lovelace");
    assert!(rule["found"].as_str().unwrap().contains("ADA LOVELACE"), "{rule}");

    // Someone else took the selfie.
    let other = documents_for(spec(json!({ "selfie": "grace_hopper" })));
    let v = run_real(&api, other.path(), json!({})).await;
    assert_eq!(failed_rules(&v), vec!["selfie_mismatch".to_string()], "{v:#}");
    assert!(v["selfie_match"]["score"].as_f64().unwrap() < v["selfie_match"]["threshold"].as_f64().unwrap());

    // An expired licence.
    let expired = documents_for(spec(json!({ "expiry": "2025-01-31" })));
    let v = run_real(&api, expired.path(), json!({})).await;
    assert_eq!(failed_rules(&v), vec!["document_expired".to_string()], "{v:#}");

    // No barcode on the back: extraction fails with its reason; a person decides.
    let blank = documents_for(spec(json!({ "back": "blank" })));
    let v = run_real(&api, blank.path(), json!({})).await;
    assert_eq!(v["status"], "needs_review");
    let licence = document(&v, "drivers_license");
    assert_eq!((licence["status"].as_str(), licence["failure_reason"].as_str()), (Some("extraction_failed"), Some("barcode_not_found")), "{licence:#}");
}
both_engines!(real_documents_decide_each_outcome);

/// The identity flow with a passport: the MRZ is read (OCR-B model, every check digit
/// validated) and compared; the portrait on the data page is matched with the selfie.
async fn a_real_passport_is_read_from_its_mrz(engine: Engine) {
    if !models_available(&format!("pipeline::a_real_passport_is_read_from_its_mrz ({engine:?})")) {
        return;
    }
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let docs = documents_for(spec(json!({
        "passport": { "surname": "Lovelace", "given_names": "Ada King", "number": "X1234567", "nationality": "GBR",
                      "date_of_birth": "1990-12-10", "expiry": "2032-03-04", "sex": "F" }
    })));
    let id = api
        .create(
            "identity",
            json!({
                "applicant": { "first_name": "Ada", "middle_name": "King", "last_name": "Lovelace", "date_of_birth": "1990-12-10",
                               "address": { "line1": "1 Strand", "city": "London", "state": "LDN", "postal_code": "WC2N 5HR", "country": "GB" } },
                "photo_id": { "type": "passport", "country": "GB", "number": "X1234567" }
            }),
        )
        .await;
    for (kind, country, file) in [("passport", "GB", "passport.png"), ("selfie", "GB", "selfie.jpg")] {
        let (status, doc) = api
            .upload(
                &format!("/identity/verifications/{id}/documents"),
                &[("type", kind), ("country", country)],
                vec![("file", std::fs::read(docs.path().join(file)).unwrap())],
            )
            .await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, _) = api.post(&format!("/identity/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200);
    let mut v = Value::Null;
    for _ in 0..300 {
        v = api.get(&format!("/identity/verifications/{id}")).await.1;
        if v["status"] != "submitted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(v["status"], "approved", "{v:#}");
    let passport = document(&v, "passport");
    let e = &passport["extracted"];
    assert_eq!((e["last_name"].as_str(), e["first_name"].as_str(), e["middle_name"].as_str()), (Some("LOVELACE"), Some("ADA"), Some("KING")));
    assert_eq!((e["document_number"].as_str(), e["issuing_country"].as_str(), e["expiry_date"].as_str()), (Some("X1234567"), Some("GB"), Some("2032-03-04")));
    assert_eq!(e["document_kind"], "passport");
}
both_engines!(a_real_passport_is_read_from_its_mrz);

/// A real `attest worker` process is killed (SIGKILL) while it holds the job; once its
/// lease runs out a second worker process takes the job over, and the verification is
/// decided exactly once, each document read exactly once.
async fn a_killed_worker_process_loses_nothing(engine: Engine) {
    if !models_available(&format!("pipeline::a_killed_worker_process_loses_nothing ({engine:?})")) {
        return;
    }
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let docs = documents_for(spec(json!({})));
    let mut b = body("Lovelace");
    b["photo_id"]["number"] = json!("L123-4567-8901");
    let id = api.create("usps1583", b).await;
    let read = |name: &str| std::fs::read(docs.path().join(name)).unwrap();
    for (kind, files) in [
        ("drivers_license", vec![("file", read("front.jpg")), ("back", read("back.png"))]),
        ("lease", vec![("file", read("poa.pdf"))]),
        ("selfie", vec![("file", read("selfie.jpg"))]),
    ] {
        let (status, doc) = api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", "US")], files).await;
        assert_eq!(status, 201, "{doc}");
    }
    let worker = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
            .arg("worker")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ATTEST_DATA_DIR", &app.config.data_dir)
            .env("DATABASE_URL", app.config.database_url())
            .env("ATTEST_ENV", "sandbox")
            .env("ATTEST_MFA_REQUIRED", "false")
            .env("ATTEST_MODELS_DIR", std::env::var("ATTEST_MODELS_DIR").unwrap())
            .env("ATTEST_JOB_LEASE_SECS", "2")
            .env("ATTEST_LOG", "warn")
            .spawn()
            .unwrap()
    };
    let (status, _) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200);

    // Worker A takes the job; it is killed the moment it holds it.
    let mut a = worker();
    let mut leased = false;
    for _ in 0..1000 {
        let holder: Option<String> =
            sqlx::query_scalar("SELECT leased_by FROM jobs WHERE kind = 'process_verification'").fetch_optional(app.db.pool()).await.unwrap().flatten();
        if holder.is_some() {
            leased = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(leased, "worker A never took the job");
    a.kill().unwrap();
    a.wait().unwrap();
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["status"], "submitted", "worker A was killed before it could decide");

    // Worker B takes over after the lease runs out and decides.
    let mut b = worker();
    let v = decided(&api, &id).await;
    b.kill().unwrap();
    b.wait().unwrap();
    assert_eq!(v["status"], "approved", "{v:#}");
    let count = |event: &'static str| {
        let id = id.clone();
        let pool = app.db.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM history WHERE verification_id = $1 AND event = $2")
                .bind(id)
                .bind(event)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("verification.approved").await, 1);
    assert_eq!(count("document.extracted").await, 3, "each document read once");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(left, 0);
}
both_engines!(a_killed_worker_process_loses_nothing);
