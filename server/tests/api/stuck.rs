//! Nothing stays `submitted`: failures outside the extractors (a document file missing
//! or not decrypting, a database that fails past the last retry, a worker that crashes
//! on every attempt) end with the verification in `needs_review`, the documents
//! `extraction_failed` with a reason a reviewer can read, the history entry and the
//! webhook event, and the dashboard overview counts them.

use crate::{
    both_engines,
    helpers::{Api, Engine, TestApp},
    s3::other_process,
};
use serde_json::Value;
use std::time::Duration;

async fn verification(api: &Api<'_>, id: &str) -> Value {
    api.get(&format!("/usps1583/verifications/{id}")).await.1
}

/// Makes the pipeline job's next lease its last attempt.
async fn make_next_attempt_the_last(app: &TestApp) {
    sqlx::query("UPDATE jobs SET attempts = max_attempts - 1, leased_until = NULL, leased_by = NULL, run_at = 0 WHERE kind = 'process_verification'")
        .execute(app.db.pool())
        .await
        .unwrap();
}

async fn lease(app: &TestApp) -> app::jobs::Job {
    let mut leased = app::jobs::lease(&app.db, "wrk_test", &[app::pipeline::JOB], 1, 60_000).await.unwrap();
    assert_eq!(leased.len(), 1, "the pipeline job is there to lease");
    leased.remove(0)
}

async fn count(app: &TestApp, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sql).bind(id).fetch_one(app.db.pool()).await.unwrap()
}

/// What every such ending has: `needs_review`, one history entry and one webhook event
/// for it, and no job left.
async fn assert_sent_to_review(app: &TestApp, api: &Api<'_>, id: &str) -> Value {
    let v = verification(api, id).await;
    assert_eq!(v["status"], "needs_review", "{v:#}");
    assert_eq!(count(app, "SELECT COUNT(*) FROM history WHERE verification_id = $1 AND event = 'verification.needs_review'", id).await, 1);
    assert_eq!(count(app, "SELECT COUNT(*) FROM events WHERE object_id = $1 AND type = 'verification.needs_review'", id).await, 1, "the webhook event");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'process_verification'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(left, 0, "no job left behind");
    v
}

fn reason_of<'v>(v: &'v Value, kind: &str) -> (&'v str, &'v str) {
    let doc = v["documents"].as_array().unwrap().iter().find(|d| d["type"] == kind).unwrap();
    (doc["status"].as_str().unwrap(), doc["failure_reason"].as_str().unwrap_or(""))
}

/// The overview's count of verifications sent to review because processing failed.
async fn overview_processing_failures(app: &TestApp) -> i64 {
    let browser = app.new_client();
    assert_eq!(app.login(&browser, "owner@acme.test", "a long enough password").await.status(), 200);
    let (status, overview) = app.rpc(&browser, "workspace_overview", &[("slug", "acme")]).await;
    assert_eq!(status, 200, "{overview}");
    overview["processing_failures"].as_i64().unwrap()
}

/// A document file gone from the store: retried first (the store may come back), then
/// on the last attempt the document is `file_unavailable` and a person reviews.
async fn a_missing_document_file_ends_in_review_not_submitted(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let (id, docs) = api.submitted("stuck").await;
    let licence = docs.iter().find(|d| d["type"] == "drivers_license").unwrap()["id"].as_str().unwrap().to_string();
    let workspace_id: String = sqlx::query_scalar("SELECT workspace_id FROM documents WHERE id = $1").bind(&licence).fetch_one(app.db.pool()).await.unwrap();
    std::fs::remove_file(app.config.data_dir.join("documents").join(&workspace_id).join(&licence).join("front")).unwrap();
    let state = server::startup::app_state(&app.config, app.db.clone()).unwrap();

    let job = lease(&app).await;
    assert!(app::pipeline::run(&app.db, &state.files, &state.pipeline, &job, "wrk_test").await.is_err(), "the first attempt asks for a retry");
    assert_eq!(verification(&api, &id).await["status"], "submitted");
    assert_eq!(reason_of(&verification(&api, &id).await, "drivers_license").0, "processing", "not given up on yet: still in the pipeline");

    make_next_attempt_the_last(&app).await;
    let job = lease(&app).await;
    app::pipeline::run(&app.db, &state.files, &state.pipeline, &job, "wrk_test").await.unwrap();
    let v = assert_sent_to_review(&app, &api, &id).await;
    assert_eq!(reason_of(&v, "drivers_license"), ("extraction_failed", "file_unavailable"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM events WHERE object_id = $1 AND type = 'document.extraction_failed'", &licence).await, 1);
    assert_eq!(overview_processing_failures(&app).await, 1);
}
both_engines!(a_missing_document_file_ends_in_review_not_submitted);

/// A worker started with another master key cannot open the files: the same ending,
/// `file_unavailable` on every document, instead of five failures and silence.
async fn a_wrong_master_key_ends_in_review_not_submitted(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let (id, _) = api.submitted("stuck").await;
    let wrong_key = app::documents::crypto::MasterKey::generate().to_base64();
    let worker_config = other_process(&app, &app.config.data_dir, &[("ATTEST_MASTER_KEY".into(), wrong_key)]);
    let state = server::startup::app_state(&worker_config, app.db.clone()).unwrap();

    make_next_attempt_the_last(&app).await;
    let job = lease(&app).await;
    app::pipeline::run(&app.db, &state.files, &state.pipeline, &job, "wrk_test").await.unwrap();
    let v = assert_sent_to_review(&app, &api, &id).await;
    for kind in ["drivers_license", "lease", "selfie"] {
        assert_eq!(reason_of(&v, kind), ("extraction_failed", "file_unavailable"), "{kind}");
    }
}
both_engines!(a_wrong_master_key_ends_in_review_not_submitted);

/// The database fails the last attempt and even the giving up (here: the history table
/// is gone): the job is postponed, never dropped. Once the database is whole again the
/// worker gives up properly: documents `processing_failed`, verification in review.
async fn a_database_failure_past_the_last_retry_still_ends_in_review(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let (id, _) = api.submitted("stuck").await;
    let state = server::startup::app_state(&app.config, app.db.clone()).unwrap();

    sqlx::query("ALTER TABLE history RENAME TO history_away").execute(app.db.pool()).await.unwrap();
    make_next_attempt_the_last(&app).await;
    let job = lease(&app).await;
    assert!(app::pipeline::run(&app.db, &state.files, &state.pipeline, &job, "wrk_test").await.is_err());
    let (failed_at, last_error): (Option<i64>, Option<String>) =
        sqlx::query_as("SELECT failed_at, last_error FROM jobs WHERE kind = 'process_verification'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(failed_at, None, "the job is postponed, not failed for good: {last_error:?}");
    sqlx::query("ALTER TABLE history_away RENAME TO history").execute(app.db.pool()).await.unwrap();
    assert_eq!(verification(&api, &id).await["status"], "submitted");

    // A worker loop takes the job again (its attempts are spent) and gives up at once.
    sqlx::query("UPDATE jobs SET run_at = 0").execute(app.db.pool()).await.unwrap();
    let worker = tokio::spawn(server::worker::run(state));
    for _ in 0..200 {
        if verification(&api, &id).await["status"] != "submitted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    let v = assert_sent_to_review(&app, &api, &id).await;
    for kind in ["drivers_license", "lease", "selfie"] {
        assert_eq!(reason_of(&v, kind), ("extraction_failed", "processing_failed"), "{kind}");
    }
    assert_eq!(overview_processing_failures(&app).await, 1);
}
both_engines!(a_database_failure_past_the_last_retry_still_ends_in_review);
