//! Documents of a verification: uploaded files (encrypted at rest), what was
//! extracted from them, and their own decision.

#[cfg(feature = "ssr")]
pub mod blobs;
#[cfg(feature = "ssr")]
pub mod crypto;
#[cfg(feature = "ssr")]
pub mod pii;
#[cfg(feature = "ssr")]
pub mod rotation;
#[cfg(feature = "ssr")]
pub mod s3;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod sniff;

use crate::{
    flows::DocumentRole,
    verifications::{Address, Decision},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    Uploaded,
    Processing,
    Extracted,
    ExtractionFailed,
    Approved,
    Rejected,
    Canceled,
}

impl DocumentStatus {
    pub const ALL: [DocumentStatus; 7] = [
        DocumentStatus::Uploaded,
        DocumentStatus::Processing,
        DocumentStatus::Extracted,
        DocumentStatus::ExtractionFailed,
        DocumentStatus::Approved,
        DocumentStatus::Rejected,
        DocumentStatus::Canceled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DocumentStatus::Uploaded => "uploaded",
            DocumentStatus::Processing => "processing",
            DocumentStatus::Extracted => "extracted",
            DocumentStatus::ExtractionFailed => "extraction_failed",
            DocumentStatus::Approved => "approved",
            DocumentStatus::Rejected => "rejected",
            DocumentStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentStatus> {
        DocumentStatus::ALL.into_iter().find(|d| d.code() == s)
    }
}

/// What the pipeline read from a document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Extracted {
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub document_number: Option<String>,
    pub expiry_date: Option<String>,
    pub issuing_country: Option<String>,
    pub issuing_jurisdiction: Option<String>,
    pub address: Option<Address>,
    /// What the document says it is (`drivers_license`, `state_id`, `passport`…), when
    /// the document itself tells (an AAMVA subfile, an MRZ document code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Document {
    /// `doc_…`
    pub id: String,
    pub verification_id: String,
    #[serde(rename = "type")]
    pub document_type: String,
    pub role: DocumentRole,
    pub country: String,
    /// `uploaded` → `processing` (the pipeline is reading it) → `extracted` |
    /// `extraction_failed` → `approved` | `rejected`; `canceled` when deleted, or replaced
    /// by a retake's new upload (kept, with its file, for the history).
    pub status: DocumentStatus,
    /// Which sides were uploaded: `front`, and `back` when given.
    pub sides: Vec<String>,
    pub extracted: Option<Extracted>,
    /// Why the document is a problem. On `extraction_failed`, why it was not read:
    /// `barcode_not_found`, `barcode_invalid`, `mrz_unreadable`, `unsupported_format`,
    /// `image_too_small`, `image_too_large`, `text_not_found` (no legible text at all),
    /// `address_not_found` (a proof of address with text but no postal address),
    /// `no_face_found`, `unsupported_document_type`, `provider_error`, `file_unavailable`,
    /// `processing_failed`. On a document that was read, the rules it failed,
    /// comma-separated (e.g. `name_mismatch`, `document_expired,date_of_birth_mismatch`,
    /// `address_blacklisted` on the proof of address, `selfie_mismatch` on the selfie).
    /// `null` when nothing is wrong.
    pub failure_reason: Option<String>,
    pub decision: Option<Decision>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}
