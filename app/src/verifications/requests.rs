//! Request bodies of the verification API, as documented. The server validates the raw
//! JSON (collecting every field error) against the same shapes.

use super::{Applicant, DecisionOutcome, Mailbox, PhotoIdSpec, ProofOfAddressSpec};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateVerification {
    /// Your own id for this applicant.
    pub reference: Option<String>,
    pub applicant: Applicant,
    pub photo_id: PhotoIdSpec,
    /// Required in `usps1583`, optional in `identity`.
    pub proof_of_address: Option<ProofOfAddressSpec>,
    /// `usps1583` only.
    pub mailbox: Option<Mailbox>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub metadata: Option<serde_json::Value>,
}

/// Applicant fields to change (merged into the current ones), while `started`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UpdateVerification {
    pub reference: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub applicant: Option<serde_json::Value>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DecisionRequest {
    pub decision: DecisionOutcome,
    pub reason: String,
}

/// A decision as a reviewer or an integrator gives it, before it is checked: the REST
/// body and the dashboard's form both become this, and the service judges it
/// ([`super::service::parse_decision`]) with the same messages for both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionInput {
    pub decision: Option<String>,
    pub reason: Option<String>,
}

impl From<&serde_json::Value> for DecisionInput {
    /// A JSON body: a field that is not a string counts as missing.
    fn from(body: &serde_json::Value) -> Self {
        let text = |name: &str| body.get(name).and_then(serde_json::Value::as_str).map(str::to_string);
        DecisionInput { decision: text("decision"), reason: text("reason") }
    }
}

/// `POST …/verifications/{id}/request-document`: a new document of one role, from a
/// verification in `needs_review`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RequestDocument {
    /// `photo_id`, `proof_of_address` or `selfie`: a role the flow uses.
    pub role: crate::flows::DocumentRole,
    /// Why (at most 500 characters), e.g. `The photo is blurred.`
    pub reason: String,
}

/// A document request as a reviewer or an integrator gives it, before it is checked
/// ([`super::service::request_document`] judges it, with the same messages for both).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRequestInput {
    pub role: Option<String>,
    pub reason: Option<String>,
}

impl From<&serde_json::Value> for DocumentRequestInput {
    /// A JSON body: a field that is not a string counts as missing.
    fn from(body: &serde_json::Value) -> Self {
        let text = |name: &str| body.get(name).and_then(serde_json::Value::as_str).map(str::to_string);
        DocumentRequestInput { role: text("role"), reason: text("reason") }
    }
}

/// `{"message": "…"}`: every error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub message: String,
}

/// A 422: `errors` maps field paths to messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ValidationErrorBody {
    pub message: String,
    pub errors: std::collections::BTreeMap<String, Vec<String>>,
}

/// Multipart body of a document upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadDocument {
    /// Document type code, e.g. `passport`, `lease`, `selfie`.
    #[serde(rename = "type")]
    pub document_type: String,
    /// ISO 3166-1 alpha-2 issuing country.
    pub country: String,
    /// The front (JPEG, PNG, WebP, HEIC or PDF; at most 10 MB).
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Binary))]
    pub file: Vec<u8>,
    /// The back, when the document has one (e.g. the PDF417 side of a licence).
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = Binary))]
    pub back: Option<Vec<u8>>,
}
