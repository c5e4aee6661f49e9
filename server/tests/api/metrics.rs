//! `/metrics` is real Prometheus text (read by PyPI's `prometheus_client` parser, run by
//! `ATTEST_TEST_PYTHON`) with bounded labels: route templates, never ids or emails.

use crate::{
    both_engines,
    helpers::{usps_body, Engine, TestApp},
};
use std::{
    collections::HashMap,
    io::Write,
    process::{Command, Stdio},
};

/// Parses `text` with `prometheus_client`; returns each family's samples as (name, labels).
/// Metric family name → its samples as (sample name, labels).
type Families = HashMap<String, Vec<(String, HashMap<String, String>)>>;

fn parse(text: &str) -> Families {
    let python = std::env::var("ATTEST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, json\nfrom prometheus_client.parser import text_string_to_metric_families\n\
                  out = {f.name: [[s.name, s.labels] for s in f.samples] for f in text_string_to_metric_families(sys.stdin.read())}\n\
                  print(json.dumps(out))\n";
    let mut child = Command::new(python).args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("python runs");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "prometheus_client cannot parse /metrics: {}\n{text}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn metrics_parse_as_prometheus_text_with_bounded_labels(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let (status, _) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(status, 200);
    app.login(&app.new_client(), "owner@acme.test", "not the password at all").await;
    app::workspaces::service::set_rate_limit(&app.db, "acme", 1, &app::access::Actor::Operator).await.unwrap();
    for _ in 0..3 {
        api.get("/usps1583/verifications").await;
    }

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let families = parse(&text);
    for family in [
        "attest_http_requests",
        "attest_http_request_duration_seconds",
        "attest_verifications_created",
        "attest_sign_in_failures",
        "attest_rate_limited",
        "attest_job_queue_depth",
        "attest_job_queue_oldest_age_seconds",
        // The original names, kept for dashboards and bench scripts.
        "attest_jobs_queued",
        "attest_jobs_oldest_age_seconds",
        "attest_jobs_failed",
    ] {
        assert!(families.contains_key(family), "{family} missing from /metrics:\n{text}");
    }
    let api_route = families["attest_http_requests"].iter().any(|(_, labels)| {
        labels.get("route").map(String::as_str) == Some("/api/v1/{flow}/verifications/{id}")
            && labels.get("surface").map(String::as_str) == Some("api")
            && labels.get("status").map(String::as_str) == Some("2xx")
    });
    assert!(api_route, "requests are labelled by route template:\n{text}");
    for (name, samples) in &families {
        for (_, labels) in samples {
            for value in labels.values() {
                assert!(!value.contains(&id) && !value.contains('@'), "{name}: unbounded label value {value}");
            }
        }
    }
}
both_engines!(metrics_parse_as_prometheus_text_with_bounded_labels);
