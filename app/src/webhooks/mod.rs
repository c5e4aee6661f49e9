//! Webhooks (SPEC §6): endpoints per workspace, events fanned out from the outbox in the
//! transaction of the change, signed per Standard Webhooks, delivered by workers with
//! retries, every attempt logged, resend from the log.

#[cfg(feature = "ssr")]
pub mod deliver;
pub mod page;
#[cfg(feature = "ssr")]
pub mod service;

use serde::{Deserialize, Serialize};

/// Every event type Attest emits (besides `webhook.test`, sent on request only). The
/// OpenAPI document describes each (`server::api::openapi::WEBHOOK_EVENTS`).
pub const EVENT_TYPES: [&str; 20] = [
    "verification.created",
    "verification.updated",
    "verification.capture_opened",
    "verification.capture_completed",
    "verification.submitted",
    "verification.approved",
    "verification.rejected",
    "verification.needs_review",
    "verification.resubmission_requested",
    "verification.canceled",
    "verification.id_expiring",
    "verification.id_expired",
    "verification.reverification_started",
    "verification.reverified",
    "verification.redacted",
    "document.uploaded",
    "document.extracted",
    "document.extraction_failed",
    "document.approved",
    "document.rejected",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    /// `we_…`
    pub id: String,
    pub url: String,
    pub description: String,
    /// Event types delivered; `["*"]` for all.
    pub event_types: Vec<String>,
    pub active: bool,
    /// Why Attest turned the endpoint off (410 Gone, failing for days), if it did.
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The create response: the only one that carries the signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: shown once.
    pub secret: String,
}

/// One event for one endpoint; `id` is the `webhook-id` header on every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// `msg_…`
    pub id: String,
    pub endpoint_id: String,
    pub url: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `succeeded`, `failed` or `canceled`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub attempt_log: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Attempt {
    pub id: String,
    /// `automatic`, `resend` or `test`.
    pub trigger: String,
    pub attempted_at: String,
    pub url: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub request_headers: serde_json::Value,
    pub request_body: String,
    pub response_status: Option<i64>,
    /// Truncated to 4 KB.
    pub response_body: Option<String>,
    pub duration_ms: i64,
    /// `timeout`, `connection_refused`, `dns`, `tls`, `http_status`, `blocked` or `other`; none on success.
    pub failure_class: Option<String>,
    pub failure_detail: Option<String>,
}

/// What a delivery log shows instead of a request body to someone without
/// `documents.view` (dashboard) or `documents:read` (API token).
pub const PAYLOAD_HIDDEN: &str = "(hidden: event payloads can hold personal data extracted from documents; seeing them needs the documents.view permission)";

impl Delivery {
    /// Replaces every attempt's request body (the signed event payload, which can carry
    /// extracted PII) with [`PAYLOAD_HIDDEN`].
    pub fn hide_payload(&mut self) {
        for attempt in &mut self.attempt_log {
            attempt.request_body = PAYLOAD_HIDDEN.to_string();
        }
    }
}
