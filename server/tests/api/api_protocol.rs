//! The API's HTTP protocol details: the `Bearer` scheme name in any case, idempotent
//! multipart uploads whatever their boundary, the documented `verification.updated` event.

use crate::{
    both_engines,
    helpers::{jpeg, usps_body, Engine, TestApp},
};
use serde_json::json;

async fn the_bearer_scheme_is_matched_in_any_case_and_only_bearer_passes(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let url = api.url("/usps1583/verifications");
    let token = &api.token;
    for accepted in [format!("Bearer {token}"), format!("bearer {token}"), format!("BEARER {token}"), format!("bEaReR  {token}")] {
        let response = app.client.get(&url).header("Authorization", &accepted).send().await.unwrap();
        assert_eq!(response.status(), 200, "{accepted:?} is the bearer scheme (RFC 7235: case-insensitive)");
    }
    for refused in [format!("Basic {token}"), format!("Bearer{token}"), format!("Bearers {token}"), token.to_string(), "bearer ".into(), "bearer x".into()] {
        let response = app.client.get(&url).header("Authorization", &refused).send().await.unwrap();
        assert_eq!(response.status(), 401, "{refused:?} must not authenticate");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
}
both_engines!(the_bearer_scheme_is_matched_in_any_case_and_only_bearer_passes);

/// A multipart body written by hand, so the boundary is ours to choose.
fn multipart(boundary: &str, fields: &[(&str, &str)], file_name: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

async fn a_retried_upload_with_a_new_boundary_is_replayed_not_refused_or_duplicated(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let url = api.url(&format!("/usps1583/verifications/{id}/documents"));
    let send = |boundary: &'static str, body: Vec<u8>| {
        app.client
            .post(&url)
            .bearer_auth(&api.token)
            .header("Idempotency-Key", "upload-1")
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
    };
    let fields = [("type", "passport"), ("country", "GB")];
    let first = send("first-try-7d1a", multipart("first-try-7d1a", &fields, "passport.jpg", &jpeg())).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let created: serde_json::Value = first.json().await.unwrap();

    // The client's retry: a new boundary (and file name), the same fields and file.
    let retry = send("retry-3f9b0c", multipart("retry-3f9b0c", &fields, "IMG_0001.jpg", &jpeg())).await.unwrap();
    assert_eq!(retry.status(), 201, "a retry of the same upload is a replay");
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<serde_json::Value>().await.unwrap(), created);
    let (_, listed) = api.get(&format!("/usps1583/verifications/{id}/documents")).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "the retry uploaded nothing new: {listed}");

    // Another file, or another field value, under the same key is still refused.
    let mut other = jpeg();
    other.push(0x43);
    let refused = send("third-9a8b", multipart("third-9a8b", &fields, "passport.jpg", &other)).await.unwrap();
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["errors"]["Idempotency-Key"], json!(["This Idempotency-Key was already used with a different request."]));
    let refused = send("fourth-1c2d", multipart("fourth-1c2d", &[("type", "passport"), ("country", "US")], "passport.jpg", &jpeg())).await.unwrap();
    assert_eq!(refused.status(), 422);
}
both_engines!(a_retried_upload_with_a_new_boundary_is_replayed_not_refused_or_duplicated);

async fn verification_updated_is_a_documented_event_endpoints_can_subscribe_to(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let (status, endpoint) = api.post("/webhook-endpoints", json!({ "url": "http://127.0.0.1:9/hooks", "event_types": ["verification.updated"] })).await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let id = api.create("usps1583", usps_body()).await;
    let (status, _) = api.patch(&format!("/usps1583/verifications/{id}"), json!({ "reference": "cust_43" })).await;
    assert_eq!(status, 200);
    let (status, deliveries) = api.get(&format!("/webhook-endpoints/{endpoint_id}/deliveries")).await;
    assert_eq!(status, 200);
    let types: Vec<&str> = deliveries["data"].as_array().unwrap().iter().map(|d| d["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["verification.updated"], "only the subscribed event is delivered, not verification.created");

    let doc: serde_json::Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["webhooks"]["verification.updated"]["post"]["requestBody"].is_object(), "the event is in the document's webhooks");
    assert!(doc["components"]["schemas"]["WebhookEvent"]["properties"]["type"]["enum"].as_array().unwrap().contains(&json!("verification.updated")));
}
both_engines!(verification_updated_is_a_documented_event_endpoints_can_subscribe_to);
