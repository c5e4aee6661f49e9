//! Verifications: the applicant's declared data, their documents, rule results and the
//! decision (SPEC §3–§4). These wire types are the REST API's bodies, the OpenAPI
//! schemas and the dashboard's data, defined once.

pub mod create;
pub mod detail;
pub mod page;
pub mod requests;
#[cfg(feature = "ssr")]
pub mod search;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod validate;

use crate::{
    documents::Document,
    flows::{DocumentRole, Flow},
};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    Started,
    Submitted,
    Approved,
    Rejected,
    NeedsReview,
    /// A reviewer or the API asked for a new document of one role (`requested_documents`);
    /// the applicant's upload replaces that document, and submit processes it again.
    ResubmissionRequested,
    Canceled,
}

impl VerificationStatus {
    pub const ALL: [VerificationStatus; 7] = [
        VerificationStatus::Started,
        VerificationStatus::Submitted,
        VerificationStatus::Approved,
        VerificationStatus::Rejected,
        VerificationStatus::NeedsReview,
        VerificationStatus::ResubmissionRequested,
        VerificationStatus::Canceled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            VerificationStatus::Started => "started",
            VerificationStatus::Submitted => "submitted",
            VerificationStatus::Approved => "approved",
            VerificationStatus::Rejected => "rejected",
            VerificationStatus::NeedsReview => "needs_review",
            VerificationStatus::ResubmissionRequested => "resubmission_requested",
            VerificationStatus::Canceled => "canceled",
        }
    }
}

impl fmt::Display for VerificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for VerificationStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VerificationStatus::ALL.into_iter().find(|v| v.code() == s).ok_or(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Applicant {
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub address: Address,
}

/// The photo ID the applicant declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PhotoIdSpec {
    #[serde(rename = "type")]
    pub document_type: String,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

/// The proof of address the applicant declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProofOfAddressSpec {
    #[serde(rename = "type")]
    pub document_type: String,
    pub country: String,
}

/// The CMRA mailbox (usps1583 only): the PS Form 1583 record's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Mailbox {
    pub pmb: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmra_address: Option<Address>,
    /// Box 1a: the day the box opened, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_on: Option<String>,
    /// Box 1b: the day the box closed, `YYYY-MM-DD`; the only field that may change
    /// once the verification is approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_on: Option<String>,
    /// Box 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
    /// Box 4k: a court-ordered protected individual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_individual: Option<bool>,
    /// Boxes 5–7, when `service_type` is `business`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business: Option<Business>,
}

/// Box 3 of PS Form 1583.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    Business,
    Residential,
}

impl ServiceType {
    pub fn code(self) -> &'static str {
        match self {
            ServiceType::Business => "business",
            ServiceType::Residential => "residential",
        }
    }
}

/// Boxes 5–7 of PS Form 1583: the business that receives mail at the box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Business {
    /// Box 5.
    pub name: String,
    /// Box 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Box 7: the kind of business (e.g. `LLC`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub business_type: Option<String>,
    /// Box 7: where it is registered (e.g. `Delaware`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_in: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    Pass,
    Fail,
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RuleResult {
    pub name: String,
    pub result: RuleOutcome,
    pub expected: Option<String>,
    pub found: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SelfieMatch {
    pub score: f64,
    pub threshold: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    Approved,
    Rejected,
}

impl DecisionOutcome {
    pub fn code(self) -> &'static str {
        match self {
            DecisionOutcome::Approved => "approved",
            DecisionOutcome::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Decision {
    pub outcome: DecisionOutcome,
    pub reason: Option<String>,
    /// `user:<id>`, `api_token:<id>` or `system`.
    pub by: String,
    /// RFC 3339 UTC.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Verification {
    /// `ver_…`
    pub id: String,
    pub flow: Flow,
    pub status: VerificationStatus,
    pub reference: Option<String>,
    pub applicant: Applicant,
    pub photo_id: Option<PhotoIdSpec>,
    pub proof_of_address: Option<ProofOfAddressSpec>,
    pub mailbox: Option<Mailbox>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub metadata: serde_json::Value,
    /// Grows with every change; webhook receivers use it to drop stale events.
    pub version: i64,
    pub documents: Vec<Document>,
    pub rules: Vec<RuleResult>,
    pub selfie_match: Option<SelfieMatch>,
    pub decision: Option<Decision>,
    /// The new documents asked for while `resubmission_requested` (see
    /// `POST …/request-document`); empty otherwise.
    #[serde(default)]
    pub requested_documents: Vec<DocumentRequest>,
    pub created_at: String,
    pub updated_at: String,
    /// Under legal hold: retention does not redact it, nor does `…/redact`.
    #[serde(default)]
    pub legal_hold: bool,
    /// RFC 3339 UTC: when its documents were destroyed and its personal data replaced
    /// (retention, or `…/redact`); `null` until then.
    #[serde(default)]
    pub redacted_at: Option<String>,
}

/// A new document of `role` asked for by a reviewer or the API (SPEC §10, retake).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DocumentRequest {
    pub role: DocumentRole,
    /// Why, as the requester wrote it (shown to the applicant's integrator).
    pub reason: String,
    /// `user:<id>` or `api_token:<id>`.
    pub by: String,
    /// RFC 3339 UTC.
    pub at: String,
}

/// A page of a list: `{"data": [...], "next_cursor": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// One entry of a verification's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    pub id: String,
    /// e.g. `verification.created`, `document.uploaded`, `verification.submitted`.
    pub event: String,
    pub document_id: Option<String>,
    /// `user`, `api_token`, `system` or `operator`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    /// The acting user's e-mail address, when a user acted (and still has an account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_email: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub data: serde_json::Value,
    pub created_at: String,
}
