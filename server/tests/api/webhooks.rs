//! Webhooks end to end: a real HTTP receiver on loopback verifies every delivery with the
//! third-party `standardwebhooks` package from PyPI (run by `ATTEST_TEST_PYTHON`).

use crate::{
    both_engines,
    helpers::{usps_body, Api, Engine, TestApp},
    support::{spawn, Receiver},
};
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) async fn endpoint(api: &Api<'_>, url: &str, events: Value) -> (String, String) {
    let (status, created) = api.post("/webhook-endpoints", json!({ "url": url, "description": "tests", "event_types": events })).await;
    assert_eq!(status, 201, "{created}");
    (created["id"].as_str().unwrap().to_string(), created["secret"].as_str().unwrap().to_string())
}

/// Polls the delivery log until `pred` holds for the endpoint's deliveries.
async fn wait_log(api: &Api<'_>, endpoint_id: &str, pred: impl Fn(&Vec<Value>) -> bool) -> Vec<Value> {
    for _ in 0..200 {
        let (_, page) = api.get(&format!("/webhook-endpoints/{endpoint_id}/deliveries")).await;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        if pred(&data) {
            return data;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, page) = api.get(&format!("/webhook-endpoints/{endpoint_id}/deliveries")).await;
    panic!("the delivery log never matched: {page}");
}

async fn deliveries_are_signed_and_verify_with_the_official_library(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let receiver = Receiver::start();
    let (endpoint_id, secret) = endpoint(&api, &receiver.url("/ok"), json!([])).await;
    assert!(secret.starts_with("whsec_"));
    receiver.trust(&[&secret]);
    let (_, fetched) = api.get(&format!("/webhook-endpoints/{endpoint_id}")).await;
    assert!(fetched.get("secret").is_none(), "only the create response carries the secret");
    assert!(!api.get("/webhook-endpoints").await.1.to_string().contains(&secret));

    let id = api.create("usps1583", usps_body()).await;
    api.post(&format!("/usps1583/verifications/{id}/cancel"), json!({})).await;
    let mut got = receiver.wait_for(2).await;
    for delivery in &got {
        assert_eq!(delivery["verified_with"], json!([0]), "standardwebhooks verifies the signature: {delivery}");
        assert!(delivery["id"].as_str().unwrap().starts_with("msg_"));
    }
    // Deliveries run concurrently and may arrive in any order: receivers order them by
    // the object's version (SPEC §6), and so does this test.
    got.sort_by_key(|d| d["body"]["data"]["object"]["version"].as_i64());
    let types: Vec<&str> = got.iter().map(|d| d["body"]["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["verification.created", "verification.canceled"]);
    assert_eq!(got[0]["body"]["data"]["object"]["version"], 1);
    assert_eq!(got[1]["body"]["data"]["object"]["version"], 2, "payloads carry the object's version");

    let log = wait_log(&api, &endpoint_id, |d| d.len() == 2 && d.iter().all(|x| x["status"] == "succeeded")).await;
    let attempt = &log[0]["attempt_log"][0];
    assert_eq!(attempt["response_status"], 204);
    assert!(attempt["failure_class"].is_null());
    assert_eq!(attempt["request_headers"]["webhook-id"], log[0]["id"]);
}
both_engines!(deliveries_are_signed_and_verify_with_the_official_library);

async fn a_rotated_secret_signs_with_both_during_the_overlap(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let receiver = Receiver::start();
    let (endpoint_id, old) = endpoint(&api, &receiver.url("/ok"), json!(["verification.created"])).await;
    let (status, rotated) = api.post(&format!("/webhook-endpoints/{endpoint_id}/rotate-secret"), json!({})).await;
    assert_eq!(status, 200);
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    receiver.trust(&[&new, &old]);
    api.create("usps1583", usps_body()).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0]["verified_with"], json!([0, 1]), "verifies with the new secret and with the old one");
    assert_eq!(got[0]["signature"].as_str().unwrap().split(' ').count(), 2);
}
both_engines!(a_rotated_secret_signs_with_both_during_the_overlap);

async fn each_failure_class_is_logged_and_retried_on_schedule(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WEBHOOK_RETRY_SCHEDULE", "0,0.2,0.2"), ("ATTEST_WEBHOOK_TIMEOUT_SECS", "1")]).await;
    let api = app.api("acme").await;
    let receiver = Receiver::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cases = [
        (receiver.url("/fail"), "http_status"),
        (receiver.url("/redirect"), "http_status"),
        (format!("http://127.0.0.1:{closed}/hook"), "connection_refused"),
        ("http://attest-test-nonexistent.invalid/hook".to_string(), "dns"),
        (format!("https://127.0.0.1:{}/ok", receiver.port), "tls"),
        (receiver.url("/slow"), "timeout"),
    ];
    let mut endpoints = Vec::new();
    for (url, class) in &cases {
        endpoints.push((endpoint(&api, url, json!(["verification.created"])).await.0, *class));
    }
    api.create("usps1583", usps_body()).await;
    for (endpoint_id, class) in endpoints {
        let log = wait_log(&api, &endpoint_id, |d| d.first().is_some_and(|x| x["status"] == "failed")).await;
        let attempts = log[0]["attempt_log"].as_array().unwrap();
        assert_eq!(attempts.len(), 3, "{class}: one attempt per step of the schedule");
        for a in attempts {
            assert_eq!(a["failure_class"], class, "{a}");
        }
        let (_, ep) = api.get(&format!("/webhook-endpoints/{endpoint_id}")).await;
        assert_eq!(ep["active"], true, "ordinary failures do not disable the endpoint");
    }
}
both_engines!(each_failure_class_is_logged_and_retried_on_schedule);

async fn gone_disables_and_inactive_endpoints_get_nothing(engine: Engine) {
    // No background worker: the queue is run here, so "nothing arrived" follows a pass
    // that ran every due job, not a pause.
    let app = TestApp::spawn_with(engine, &[("ATTEST_WEBHOOK_RETRY_SCHEDULE", "0,0.2,0.2"), ("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let receiver = Receiver::start();
    let (gone_id, _) = endpoint(&api, &receiver.url("/gone"), json!(["verification.created"])).await;
    let (off_id, _) = endpoint(&api, &receiver.url("/ok"), json!(["verification.created"])).await;
    assert_eq!(api.patch(&format!("/webhook-endpoints/{off_id}"), json!({ "active": false })).await.0, 200);
    api.create("usps1583", usps_body()).await;
    let drained = app.run_pending().await;
    assert_eq!(drained.deliveries, 1, "one delivery ran, to the active endpoint: {drained:?}");
    let (_, page) = api.get(&format!("/webhook-endpoints/{gone_id}/deliveries")).await;
    let log = page["data"].as_array().unwrap();
    assert_eq!(log[0]["status"], "failed", "{page}");
    assert_eq!(log[0]["attempt_log"].as_array().unwrap().len(), 1, "410 is not retried");
    assert_eq!(app.run_pending().await, app::jobs::Drained::default(), "and nothing is left to run, now or later");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(left, 0);
    let (_, ep) = api.get(&format!("/webhook-endpoints/{gone_id}")).await;
    assert_eq!(ep["active"], false);
    assert_eq!(ep["disabled_reason"], "The endpoint answered 410 Gone.");
    assert_eq!(receiver.received().iter().map(|r| r["path"].clone()).collect::<Vec<_>>(), vec![json!("/gone")], "the inactive endpoint received nothing");
    let (_, off_log) = api.get(&format!("/webhook-endpoints/{off_id}/deliveries")).await;
    assert_eq!(off_log["data"], json!([]));
    let disabled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE action = 'webhook.endpoint_disabled'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(disabled, 1);
}
both_engines!(gone_disables_and_inactive_endpoints_get_nothing);

/// A receiver's `Retry-After` pushes the next attempt past the schedule's own delay.
async fn retry_after_is_honoured(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WEBHOOK_RETRY_SCHEDULE", "0,0.2,0.2")]).await;
    let api = app.api("acme").await;
    let receiver = Receiver::start();
    let (endpoint_id, _) = endpoint(&api, &receiver.url("/retry-after"), json!(["verification.created"])).await;
    api.create("usps1583", usps_body()).await;
    let log = wait_log(&api, &endpoint_id, |d| d.first().is_some_and(|x| x["status"] == "failed")).await;
    let attempts = log[0]["attempt_log"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{log:?}");
    assert!(attempts.iter().all(|a| a["response_status"] == 429), "{attempts:?}");
    let times: Vec<f64> = receiver.received().iter().map(|r| r["received_at"].as_f64().unwrap()).collect();
    assert_eq!(times.len(), 3);
    for gap in times.windows(2).map(|w| w[1] - w[0]) {
        assert!(gap >= 0.95, "Retry-After: 1 waits a second, not the schedule's 0.2 s (gap {gap:.2} s)");
    }
}
both_engines!(retry_after_is_honoured);

/// An endpoint that has failed for longer than five days is disabled on its next failure,
/// and its owners are told by e-mail.
async fn a_long_failing_endpoint_is_disabled_and_owners_told(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WEBHOOK_RETRY_SCHEDULE", "0,0.2")]).await;
    let api = app.api("acme").await;
    app.seed_member("acme", "owner@acme.test", "correct horse battery staple", app::access::Role::Owner).await;
    let receiver = Receiver::start();
    let (endpoint_id, _) = endpoint(&api, &receiver.url("/fail"), json!(["verification.created"])).await;
    let four_days_ago = app::store::now_ms() - 4 * 86_400_000;
    sqlx::query("UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2").bind(four_days_ago).bind(&endpoint_id).execute(app.db.pool()).await.unwrap();
    api.create("usps1583", usps_body()).await;
    wait_log(&api, &endpoint_id, |d| d.first().is_some_and(|x| x["status"] == "failed")).await;
    let (_, ep) = api.get(&format!("/webhook-endpoints/{endpoint_id}")).await;
    assert_eq!(ep["active"], true, "four days of failures are not enough: {ep}");

    let six_days_ago = app::store::now_ms() - 6 * 86_400_000;
    sqlx::query("UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2").bind(six_days_ago).bind(&endpoint_id).execute(app.db.pool()).await.unwrap();
    api.create("usps1583", usps_body()).await;
    let log = wait_log(&api, &endpoint_id, |d| d.len() == 2 && d[0]["status"] != "pending").await;
    assert_eq!(log[0]["status"], "canceled", "a disabled endpoint's pending delivery stops: {:?}", log[0]);
    assert_eq!(log[0]["attempts"], 1);
    let (_, ep) = api.get(&format!("/webhook-endpoints/{endpoint_id}")).await;
    assert_eq!(ep["active"], false, "{ep}");
    assert_eq!(ep["disabled_reason"], "Deliveries failed for 5 days.");
    let mail = app.outbox().into_iter().find(|m| m.contains("To: owner@acme.test") && m.contains("webhook endpoint was disabled")).expect("the owner is told");
    assert!(mail.contains(&receiver.url("/fail")) && mail.contains("Deliveries failed for 5 days."), "{mail}");
}
both_engines!(a_long_failing_endpoint_is_disabled_and_owners_told);

async fn resend_keeps_the_id_with_a_fresh_signature(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let receiver = Receiver::start();
    let (endpoint_id, secret) = endpoint(&api, &receiver.url("/ok"), json!(["verification.created"])).await;
    receiver.trust(&[&secret]);
    api.create("usps1583", usps_body()).await;
    receiver.wait_for(1).await;
    let log = wait_log(&api, &endpoint_id, |d| d.first().is_some_and(|x| x["status"] == "succeeded")).await;
    let delivery_id = log[0]["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(api.post(&format!("/webhook-deliveries/{delivery_id}/resend"), json!({})).await.0, 202);
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1]["id"], got[0]["id"], "the same webhook-id");
    assert_ne!(got[1]["timestamp"], got[0]["timestamp"], "a fresh timestamp");
    assert_ne!(got[1]["signature"], got[0]["signature"]);
    assert_eq!(got[1]["verified_with"], json!([0]));
    let log = wait_log(&api, &endpoint_id, |d| d[0]["attempt_log"].as_array().is_some_and(|a| a.len() == 2)).await;
    assert_eq!(log[0]["attempt_log"][1]["trigger"], "resend");
    let resent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE action = 'webhook.resent'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(resent, 1);
    let other = app.api("other").await;
    assert_eq!(other.post(&format!("/webhook-deliveries/{delivery_id}/resend"), json!({})).await.0, 404);
}
both_engines!(resend_keeps_the_id_with_a_fresh_signature);

async fn endpoint_input_is_validated_and_scoped(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let (status, body) = api.post("/webhook-endpoints", json!({ "url": "ftp://example.com", "event_types": ["nope"] })).await;
    assert_eq!(status, 422);
    assert!(body["errors"]["url"].is_array() && body["errors"]["event_types"].is_array(), "{body}");
    let (id, _) = endpoint(&api, "http://127.0.0.1:9/hook", json!([])).await;
    let other = app.api("other").await;
    assert_eq!(other.get(&format!("/webhook-endpoints/{id}")).await.0, 404);
    assert_eq!(other.delete(&format!("/webhook-endpoints/{id}")).await.0, 404);
    sqlx::query("UPDATE api_tokens SET scopes = 'verifications:read'").execute(app.db.pool()).await.unwrap();
    assert_eq!(api.get("/webhook-endpoints").await, (403, json!({ "message": "This action is unauthorized." })));
}
both_engines!(endpoint_input_is_validated_and_scoped);

/// SPEC §1: sandbox allows `http` and loopback, never the private or link-local network.
async fn sandbox_endpoints_may_not_point_at_private_or_metadata_addresses(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    for url in ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:192.168.1.1]/hook", "http://[64:ff9b::a00:1]/hook"] {
        let (status, body) = api.post("/webhook-endpoints", json!({ "url": url })).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(body["errors"]["url"][0].as_str().unwrap().contains("private"), "{body}");
    }
    endpoint(&api, "http://127.0.0.1:9/hook", json!([])).await;
    let (id, _) = endpoint(&api, "http://localhost:9/hook", json!([])).await;
    assert_eq!(api.patch(&format!("/webhook-endpoints/{id}"), json!({ "url": "http://10.1.2.3/hook" })).await.0, 422);
}
both_engines!(sandbox_endpoints_may_not_point_at_private_or_metadata_addresses);

async fn nothing_is_lost_when_a_worker_dies_mid_delivery(engine: Engine) {
    // The server runs without workers; a "crashed" worker holds the job's lease; a
    // separate `attest worker` process takes over once the lease runs out.
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let receiver = Receiver::start();
    let (_, secret) = endpoint(&api, &receiver.url("/ok"), json!(["verification.created"])).await;
    receiver.trust(&[&secret]);
    api.create("usps1583", usps_body()).await;
    sqlx::query("UPDATE jobs SET leased_by = 'wrk_crashed', leased_until = $1, attempts = 1 WHERE kind = 'deliver_webhook'")
        .bind(app::store::now_ms() + 1500)
        .execute(app.db.pool())
        .await
        .unwrap();
    let worker = spawn(&app.config.data_dir, app.config.database_url(), &["worker"], &[]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(receiver.received().is_empty(), "nothing while the lease is held");
    let got = receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(worker);
    assert_eq!(receiver.received().len(), 1, "delivered exactly once: {got:?}");
    assert_eq!(got[0]["verified_with"], json!([0]));
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(jobs, 0, "the job is done");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("attest_jobs_queued 0"), "{metrics}");
}
both_engines!(nothing_is_lost_when_a_worker_dies_mid_delivery);
