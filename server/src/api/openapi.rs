//! The OpenAPI 3.1 document, generated from the route handlers' annotations.
//!
//! Handlers declare their success responses; the responses every operation shares (401,
//! 403, 404, 400, 409, 413, 415, 422, 429 with their bodies and headers), the
//! `Idempotency-Key` parameter and the rate-limit headers are attached in one place,
//! [`finish`], from what the operation is (its path parameters, body, query, method), so
//! no handler can forget one. The webhook events are described in the document's
//! `webhooks` section.

use app::{
    flows::Flow,
    verifications::requests::{ErrorBody, ValidationErrorBody},
};
use axum::{response::IntoResponse, Json};
use serde_json::json;
use std::sync::Arc;
use utoipa::{
    openapi::{
        extensions::Extensions,
        header::{Header, HeaderBuilder},
        path::{Operation, ParameterBuilder, ParameterIn},
        response::{Response, ResponseBuilder},
        schema::{ObjectBuilder, Schema, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        ContentBuilder, OpenApi as Doc, Ref, RefOr, Required,
    },
    Modify, OpenApi,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Attest API",
        version = "1",
        description = "Identity verification for USPS PS Form 1583 and plain identity checks. \
            Authenticate with `Authorization: Bearer <token>`. Errors are JSON: `{\"message\": …}`, \
            plus `errors` keyed by field path on 422. Every response to an authenticated request carries the \
            workspace's rate-limit headers (`RateLimit-Policy`, `RateLimit`, `RateLimit-Limit`, `RateLimit-Remaining`, \
            `RateLimit-Reset`); a 429 also says `Retry-After` (seconds). A POST with an `Idempotency-Key` (24 hours) \
            replays its first response. Webhook events and their payload are listed under `webhooks`."
    ),
    components(schemas(ErrorBody, ValidationErrorBody)),
    servers((url = "/api/v1")),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "verifications", description = "Create, read, update, submit, cancel and decide verifications"),
        (name = "documents", description = "Upload, read, cancel and decide a verification's documents"),
        (name = "capture links", description = "Links that let the applicant photograph and upload their own documents"),
        (name = "configuration", description = "The flow's accepted document types"),
        (name = "webhooks", description = "Webhook endpoints, their delivery log, resend")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Doc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An API token (`att_…`) created on the workspace's API tokens page or with `attest admin create-token`: `Authorization: Bearer <token>` (the scheme name is case-insensitive)."))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub fn base() -> Doc {
    ApiDoc::openapi()
}

/// A string schema, optionally described.
fn string_schema(description: Option<&str>) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).description(description)
}

fn header(schema: ObjectBuilder, description: &str) -> Header {
    HeaderBuilder::new().schema(schema).description(Some(description)).build()
}

/// The rate-limit headers of every response to an authenticated request.
fn rate_limit_headers() -> Vec<(&'static str, Header)> {
    let integer = || ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0));
    vec![
        ("RateLimit-Policy", header(string_schema(None), "The workspace's budget: `\"workspace\";q=<requests>;w=60`.")),
        ("RateLimit", header(string_schema(None), "What is left of it: `\"workspace\";r=<remaining>;t=<seconds to reset>`.")),
        ("RateLimit-Limit", header(integer(), "Requests allowed per minute (the workspace's, shared by its tokens).")),
        ("RateLimit-Remaining", header(integer(), "Requests left in the current minute.")),
        ("RateLimit-Reset", header(integer(), "Seconds until the current minute's budget resets.")),
    ]
}

fn json_response(description: &str, schema: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
}

/// The shared error responses, by component name, with the status they answer.
fn error_responses() -> Vec<(&'static str, &'static str, Response)> {
    let with_limits = |mut response: ResponseBuilder| {
        for (name, header) in rate_limit_headers() {
            response = response.header(name, header);
        }
        response
    };
    let retry_after = header(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)), "Seconds to wait before trying again.");
    vec![
        (
            "400",
            "BadRequest",
            with_limits(json_response(
                "A malformed body, or a business rule refused the request (a verification of another flow, one not in the right state, a document type already uploaded…); `message` says which.",
                "ErrorBody",
            ))
            .build(),
        ),
        (
            "401",
            "Unauthenticated",
            json_response("The token is missing, unknown, expired or revoked.", "ErrorBody")
                .header("WWW-Authenticate", header(string_schema(None), "`Bearer`."))
                .build(),
        ),
        ("403", "Forbidden", with_limits(json_response("The token does not hold the operation's scope.", "ErrorBody")).build()),
        ("404", "NotFound", with_limits(json_response("No such flow or object in the token's workspace.", "ErrorBody")).build()),
        (
            "409",
            "IdempotencyConflict",
            with_limits(json_response("A request with this `Idempotency-Key` is still being processed; retry later.", "ErrorBody")).build(),
        ),
        (
            "413",
            "PayloadTooLarge",
            with_limits(json_response("The body is too large (JSON: 256 KB; uploads: 10 MB a file).", "ErrorBody")).build(),
        ),
        (
            "415",
            "UnsupportedMediaType",
            with_limits(json_response("The body is not of the operation's media type (`application/json`, or `multipart/form-data` for uploads).", "ErrorBody")).build(),
        ),
        (
            "422",
            "ValidationFailed",
            with_limits(json_response(
                "Invalid fields or query parameters, `errors` keyed by field path; or an `Idempotency-Key` that is empty, longer than 255 characters, or was already used with a different request.",
                "ValidationErrorBody",
            ))
            .build(),
        ),
        (
            "429",
            "RateLimited",
            with_limits(json_response("The workspace's budget for the minute is spent; try again after `Retry-After` seconds.", "ErrorBody"))
                .header("Retry-After", retry_after)
                .build(),
        ),
    ]
}

/// Which of the shared error responses `operation` at `path` can answer with.
fn error_statuses(path: &str, method: &str, operation: &Operation) -> Vec<&'static str> {
    let mut statuses = vec!["401", "403", "429"];
    let has_body = operation.request_body.is_some();
    let has_query = operation.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Query);
    if path.contains('{') {
        statuses.push("404");
    }
    // Every operation on one verification first checks that it belongs to the flow.
    if has_body || path.starts_with("/{flow}/verifications/{id}") {
        statuses.push("400");
    }
    if has_body {
        statuses.extend(["413", "415", "422"]);
    }
    if has_query {
        statuses.push("422");
    }
    if method == "post" {
        // The Idempotency-Key: still in flight, too long a body to fingerprint, reused or malformed.
        statuses.extend(["409", "413", "422"]);
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

/// Attaches to every operation what all operations share (see the module comment).
pub fn finish(doc: &mut Doc) {
    let errors = error_responses();
    let sandbox: Vec<String> = app::pipeline::sandbox::SCENARIOS.iter().map(|(name, _, effect)| format!("- `{name}`: {effect}")).collect();
    let description = doc.info.description.get_or_insert_with(String::new);
    description.push_str(
        "\n\n**Sandbox test data.** In the sandbox environment, an applicant whose `last_name` is one of these \
         (any letter case) drives the pipeline to a known outcome without a real ID; production refuses them with a 422 \
         on create and update:\n",
    );
    description.push_str(&sandbox.join("\n"));
    let components = doc.components.get_or_insert_with(Default::default);
    for (_, name, response) in &errors {
        components.responses.insert(name.to_string(), RefOr::T(response.clone()));
    }
    components.schemas.insert("WebhookEvent".into(), RefOr::T(webhook_event_schema()));
    let flow_codes: Vec<&str> = Flow::ALL.iter().map(|f| f.code()).collect();
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [("get", &mut item.get), ("post", &mut item.post), ("patch", &mut item.patch), ("delete", &mut item.delete), ("put", &mut item.put)];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.name == "flow" && parameter.parameter_in == ParameterIn::Path {
                    parameter.schema = Some(RefOr::T(Schema::Object(string_schema(Some("The flow.")).enum_values(Some(flow_codes.clone())).build())));
                }
            }
            // Success responses carry the rate-limit headers; a POST's may be a replay.
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    for (name, header) in rate_limit_headers() {
                        response.headers.entry(name.to_string()).or_insert(header);
                    }
                    if method == "post" {
                        let replayed = header(
                            string_schema(None).enum_values(Some(["true"])),
                            "Present when the response is the replay of an earlier request with the same `Idempotency-Key`.",
                        );
                        response.headers.entry("Idempotent-Replayed".to_string()).or_insert(replayed);
                    }
                }
            }
            for status in error_statuses(path, method, operation) {
                let name = errors.iter().find(|(s, _, _)| *s == status).map(|(_, name, _)| *name).expect("every shared status has a response");
                operation.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
            }
            if method == "post" {
                let key = ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some("Makes a retry safe: the first response to a key is replayed for 24 hours to the same token sending the same request."))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(255))))
                    .build();
                operation.parameters.get_or_insert_with(Vec::new).push(key);
            }
        }
    }
    let webhooks: serde_json::Map<String, serde_json::Value> = WEBHOOK_EVENTS
        .iter()
        .map(|(event, description)| {
            let operation = json!({ "post": {
                "summary": event,
                "description": description,
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/WebhookEvent" } } } },
                "responses": { "2XX": { "description": "Received. Any other answer is retried (410 Gone disables the endpoint)." } }
            }});
            (event.to_string(), operation)
        })
        .collect();
    doc.extensions.get_or_insert_with(Extensions::default).insert("webhooks".into(), serde_json::Value::Object(webhooks));
}

/// Every event sent to webhook endpoints, with when it is sent. A test checks the list
/// against [`app::webhooks::EVENT_TYPES`] (plus `webhook.test`).
pub const WEBHOOK_EVENTS: &[(&str, &str)] = &[
    ("verification.created", "A verification was created (`data.object`: the verification)."),
    ("verification.updated", "A verification's applicant data, reference, metadata or mailbox changed while `started`, or an approved usps1583 record got its `mailbox.closed_on` (`data.object`: the verification)."),
    ("verification.capture_opened", "The applicant opened a capture link for the first time (`data.object`: the verification)."),
    ("verification.capture_completed", "The applicant finished a capture link: the documents are in and the verification is submitted."),
    ("verification.submitted", "A verification was submitted; the pipeline takes it from there."),
    ("verification.approved", "A verification was approved, by the pipeline or a reviewer."),
    ("verification.rejected", "A verification was rejected, by the pipeline or a reviewer."),
    ("verification.needs_review", "The pipeline left a verification for a reviewer."),
    ("verification.resubmission_requested", "A reviewer or `…/request-document` asked for a new document of one role (`data.role`, `data.reason`); the verification waits for the applicant's upload and a new submit."),
    ("verification.canceled", "A verification was canceled."),
    ("verification.id_expiring", "usps1583: the photo ID of an approved record on an open box expires within 60, 30 or 7 days (each sent once); `data.days_left` and `data.expires_on` beside the object."),
    ("verification.id_expired", "usps1583: the photo ID of an approved record on an open box has expired (sent once per expiry date); `data.days_left` is negative."),
    ("verification.reverification_started", "usps1583: a re-verification of this approved record was started; `data.follow_up_id` is the new verification."),
    ("verification.reverified", "usps1583: the follow-up `data.follow_up_id` was approved and its photo ID is now box 8 of this record."),
    ("verification.redacted", "Retention or `…/redact` destroyed the verification's documents and replaced its personal data (`data.object`: what is left, with `redacted_at`); earlier events about it keep only their id, type and time."),
    ("document.uploaded", "A document was uploaded (`data.object`: the document)."),
    ("document.extracted", "The pipeline read a document's fields."),
    ("document.extraction_failed", "The pipeline could not read a document; `failure_reason` says why."),
    ("document.approved", "A document was approved."),
    ("document.rejected", "A document was rejected."),
    ("webhook.test", "Sent by *Send test event* only (`data.object.message`)."),
];

fn webhook_event_schema() -> Schema {
    let types: Vec<&str> = WEBHOOK_EVENTS.iter().map(|(event, _)| *event).collect();
    Schema::Object(
        ObjectBuilder::new()
            .description(Some(
                "The body of every webhook delivery, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). \
                 `data.object` is the verification (`verification.*`) or the document (`document.*`) as the API returns it, with its `version`.",
            ))
            .property("id", string_schema(Some("`evt_…`")))
            .required("id")
            .property("type", string_schema(Some("The event type.")).enum_values(Some(types)))
            .required("type")
            .property("created_at", string_schema(Some("RFC 3339 UTC.")))
            .required("created_at")
            .property(
                "data",
                ObjectBuilder::new().property("object", ObjectBuilder::new().description(Some("The verification or the document."))).required("object"),
            )
            .required("data")
            .build(),
    )
}

pub async fn serve(doc: Arc<Doc>) -> impl IntoResponse {
    Json(doc.as_ref().clone())
}

/// The whole document, for the dashboard's reference page and tests.
pub fn document() -> Doc {
    super::split().1
}

/// The operations for the dashboard's reference page, in document order.
pub fn operations() -> Vec<app::reference::ApiOperation> {
    let doc = document();
    let mut out = Vec::new();
    for (path, item) in doc.paths.paths.iter() {
        let methods = [("GET", &item.get), ("POST", &item.post), ("PATCH", &item.patch), ("DELETE", &item.delete), ("PUT", &item.put)];
        for (method, operation) in methods {
            let Some(operation) = operation else { continue };
            out.push(app::reference::ApiOperation {
                method: method.to_string(),
                path: format!("/api/v1{path}"),
                tag: operation.tags.as_ref().and_then(|t| t.first().cloned()).unwrap_or_default(),
                summary: operation.summary.clone().or_else(|| operation.description.clone()).unwrap_or_default(),
                statuses: operation.responses.responses.keys().cloned().collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_sent_is_described() {
        let mut described: Vec<&str> = WEBHOOK_EVENTS.iter().map(|(event, _)| *event).collect();
        described.sort_unstable();
        let mut sent: Vec<&str> = app::webhooks::EVENT_TYPES.iter().copied().chain(["webhook.test"]).collect();
        sent.sort_unstable();
        assert_eq!(described, sent);
    }

    #[test]
    fn every_operation_lists_the_shared_responses() {
        let doc = serde_json::to_value(document()).unwrap();
        assert!(doc["webhooks"]["verification.updated"]["post"].is_object());
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = &operation["responses"];
                for status in ["401", "403", "429"] {
                    assert!(responses[status].is_object(), "{method} {path} lacks {status}");
                }
                if path.contains('{') {
                    assert!(responses["404"].is_object(), "{method} {path} lacks 404");
                }
                if operation["requestBody"].is_object() {
                    for status in ["400", "413", "415", "422"] {
                        assert!(responses[status].is_object(), "{method} {path} lacks {status}");
                    }
                }
                if method == "post" {
                    assert!(responses["409"].is_object(), "{method} {path} lacks 409");
                    assert!(operation["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "Idempotency-Key"));
                }
            }
        }
        let limited = &doc["components"]["responses"]["RateLimited"];
        assert!(limited["headers"]["Retry-After"].is_object());
        assert!(limited["headers"]["RateLimit-Remaining"].is_object());
    }
}
