//! Prometheus metrics through the `metrics` facade: services record with its macros
//! (cheap, global); this module installs the recorder once per process, times HTTP
//! requests by route template, and renders `/metrics`. Every label is bounded: route
//! templates (never paths with ids), methods, status classes, flows, job kinds, outcomes.

use axum::{extract::MatchedPath, http::Request, middleware::Next, response::Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds: HTTP requests and webhook deliveries.
const FAST: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Submit → decision: minutes to days.
const SLOW: &[f64] = &[1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 4.0 * 3600.0, 86_400.0, 3.0 * 86_400.0, 7.0 * 86_400.0];

/// The process's recorder (installed on first use; later calls share it).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(FAST)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("attest_verification_decision_seconds".into()), SLOW))
            .expect("bucket lists are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (a test harness): ours still renders what it records.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!("attest_http_requests_total", "HTTP requests by surface (api, dashboard, ops), route template, method and status class.");
    describe_histogram!("attest_http_request_duration_seconds", Unit::Seconds, "HTTP request latency by surface, route template and method.");
    describe_counter!("attest_sign_in_failures_total", "Failed password sign-ins (wrong email or password).");
    describe_counter!("attest_sign_in_lockouts_total", "Sign-in lockouts started (an email reached the failure threshold).");
    describe_counter!("attest_mfa_failures_total", "Wrong second-factor codes, and lockouts of the second factor (result=wrong|locked).");
    describe_counter!("attest_rate_limited_total", "API requests refused with 429 by a workspace's rate limit, by workspace slug.");
    describe_counter!(
        "attest_webhook_deliveries_total",
        "Webhook delivery attempts by outcome class (2xx, 3xx, 4xx, 5xx, timeout, connection, dns, tls, blocked, other)."
    );
    describe_histogram!("attest_webhook_delivery_duration_seconds", Unit::Seconds, "Webhook delivery attempt latency by outcome class.");
    describe_counter!("attest_webhook_endpoints_disabled_total", "Webhook endpoints disabled automatically after repeated failures.");
    describe_gauge!("attest_job_queue_depth", "Jobs waiting or running, by job kind.");
    describe_gauge!("attest_job_queue_oldest_age_seconds", "Age of the oldest waiting or running job, by job kind.");
}

/// Route-layer middleware: counts and times each matched request by its route template.
pub async fn track_http(request: Request<axum::body::Body>, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let surface = if route.starts_with("/api/") {
        "api"
    } else if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") {
        "ops"
    } else {
        "dashboard"
    };
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    let labels = [("surface", surface.to_string()), ("route", route), ("method", method.to_string())];
    metrics::histogram!("attest_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    let mut labels = labels.to_vec();
    labels.push(("status", status.to_string()));
    metrics::counter!("attest_http_requests_total", &labels).increment(1);
    response
}

/// Sets the queue gauges per job kind from the database (at scrape time).
pub async fn sample_queues(db: &app::store::Db) -> Result<(), sqlx::Error> {
    use sqlx::Row;
    let rows =
        sqlx::query("SELECT kind, COUNT(*) AS depth, MIN(created_at) AS oldest FROM jobs WHERE failed_at IS NULL GROUP BY kind").fetch_all(db.pool()).await?;
    let now = app::store::now_ms();
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let depth: i64 = row.try_get("depth")?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        metrics::gauge!("attest_job_queue_depth", "kind" => kind.clone()).set(depth as f64);
        metrics::gauge!("attest_job_queue_oldest_age_seconds", "kind" => kind.clone()).set(oldest.map(|o| (now - o).max(0) as f64 / 1000.0).unwrap_or(0.0));
        seen.insert(kind);
    }
    // Kinds with an empty queue read 0, not their last value.
    for kind in KNOWN_KINDS {
        if !seen.contains(*kind) {
            metrics::gauge!("attest_job_queue_depth", "kind" => *kind).set(0.0);
            metrics::gauge!("attest_job_queue_oldest_age_seconds", "kind" => *kind).set(0.0);
        }
    }
    Ok(())
}

/// Job kinds reported even when none is queued.
const KNOWN_KINDS: &[&str] = &[app::webhooks::service::DELIVER_JOB, app::pipeline::JOB];
