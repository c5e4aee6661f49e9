//! Verification flows (`usps1583`, `identity`) and their per-workspace configuration
//! (SPEC §4): accepted document types per role, required roles, forbidden type+country
//! pairs, and the decision policy. Shared with the dashboard's settings page.

#[cfg(feature = "ssr")]
pub mod service;

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    Usps1583,
    Identity,
}

impl Flow {
    pub const ALL: [Flow; 2] = [Flow::Usps1583, Flow::Identity];

    pub fn code(self) -> &'static str {
        match self {
            Flow::Usps1583 => "usps1583",
            Flow::Identity => "identity",
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Flow {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flow::ALL.into_iter().find(|f| f.code() == s).ok_or(())
    }
}

/// What a document is for in a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DocumentRole {
    PhotoId,
    ProofOfAddress,
    Selfie,
    /// PS Form 1583 box 4k: the court order of a court-ordered protected individual
    /// (`usps1583` only; required when `mailbox.protected_individual` is true). No
    /// machine reads it: a reviewer does.
    CourtOrder,
}

impl DocumentRole {
    pub const ALL: [DocumentRole; 4] = [DocumentRole::PhotoId, DocumentRole::ProofOfAddress, DocumentRole::Selfie, DocumentRole::CourtOrder];

    pub fn code(self) -> &'static str {
        match self {
            DocumentRole::PhotoId => "photo_id",
            DocumentRole::ProofOfAddress => "proof_of_address",
            DocumentRole::Selfie => "selfie",
            DocumentRole::CourtOrder => "court_order",
        }
    }
}

impl FromStr for DocumentRole {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentRole::ALL.into_iter().find(|r| r.code() == s).ok_or(())
    }
}

/// The machine reader that checks a document type in a role (the pipeline's extractors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The AAMVA PDF417 barcode (US/Canadian licences and state IDs).
    Barcode,
    /// The ICAO 9303 machine-readable zone.
    Mrz,
    /// Text of a proof-of-address document.
    AddressText,
    /// The face on a selfie.
    Face,
}

/// Which reader checks `document_type` in `role`; `None`: no machine reader, a person
/// checks it (the six USPS photo IDs without a barcode or MRZ: tribal, uniformed
/// service, US Access Card, university, Matrícula Consular, certificate of
/// naturalization).
pub fn reader_for(role: DocumentRole, document_type: &str) -> Option<Reader> {
    match (role, document_type) {
        (DocumentRole::Selfie, _) => Some(Reader::Face),
        (_, "drivers_license" | "state_id") => Some(Reader::Barcode),
        (DocumentRole::PhotoId, "passport" | "passport_card" | "national_id" | "residence_permit" | "permanent_resident_card" | "nexus_card") => {
            Some(Reader::Mrz)
        }
        (DocumentRole::ProofOfAddress, _) => Some(Reader::AddressText),
        _ => None,
    }
}

/// One accepted document type of a flow, as `GET /{flow}/document-types` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DocumentTypeInfo {
    /// The type code, e.g. `tribal_id`.
    #[serde(rename = "type")]
    pub document_type: String,
    pub role: DocumentRole,
    /// `false`: no machine reader checks this type; a verification using it goes to a
    /// reviewer (`needs_review`, the document's reason `unsupported_document_type`).
    pub machine_readable: bool,
}

/// A document type that is valid only with certain issuing countries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CountryRestriction {
    /// Document type code, e.g. `drivers_license`.
    #[serde(rename = "type")]
    pub document_type: String,
    /// The only countries (ISO 3166-1 alpha-2) this type may be issued by.
    pub allowed_countries: Vec<String>,
}

/// What happens when the pipeline has checked a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OnPass {
    AutoApprove,
    ManualReview,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    AutoReject,
    ManualReview,
}

/// One workspace's configuration of one flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FlowConfig {
    pub flow: Flow,
    pub photo_id_types: Vec<String>,
    pub proof_of_address_types: Vec<String>,
    pub required_roles: Vec<DocumentRole>,
    /// Type+country pairs that are refused: these types only with these countries.
    pub country_restrictions: Vec<CountryRestriction>,
    /// Types that count for one role only: a verification may not use the same type twice.
    pub single_role_types: Vec<String>,
    pub selfie_threshold: f64,
    pub on_pass: OnPass,
    pub on_fail: OnFail,
    /// Rules switched off for this flow (names of SPEC §5.3, e.g. `selfie_mismatch`):
    /// they report `not_applicable` and never fail a verification.
    #[serde(default)]
    pub disabled_rules: Vec<String>,
}

/// The document type of [`DocumentRole::CourtOrder`].
pub const COURT_ORDER: &str = "court_order";

/// Never accepted for any role (PS Form 1583, June 2024).
pub const NEVER_ACCEPTED: [&str; 3] = ["social_security_card", "birth_certificate", "credit_card"];

const US_ONLY: [&str; 5] = ["drivers_license", "state_id", "tribal_id", "voter_registration_card", "vehicle_registration"];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl FlowConfig {
    /// The defaults of SPEC §4.
    pub fn default_for(flow: Flow) -> FlowConfig {
        let us_only = US_ONLY.iter().map(|t| CountryRestriction { document_type: t.to_string(), allowed_countries: vec!["US".into()] }).collect();
        match flow {
            Flow::Usps1583 => FlowConfig {
                flow,
                photo_id_types: strings(&[
                    "drivers_license",
                    "state_id",
                    "tribal_id",
                    "uniformed_service_id",
                    "us_access_card",
                    "university_id",
                    "passport",
                    "passport_card",
                    "matricula_consular",
                    "nexus_card",
                    "certificate_of_naturalization",
                    "permanent_resident_card",
                ]),
                proof_of_address_types: strings(&[
                    "drivers_license",
                    "state_id",
                    "lease",
                    "mortgage",
                    "deed_of_trust",
                    "home_insurance_policy",
                    "vehicle_insurance_policy",
                    "vehicle_registration",
                    "voter_registration_card",
                ]),
                required_roles: vec![DocumentRole::PhotoId, DocumentRole::ProofOfAddress, DocumentRole::Selfie],
                country_restrictions: us_only,
                single_role_types: strings(&["drivers_license", "state_id"]),
                // The face model's score for dlib's same-person distance 0.6 (see `attest_extract::face`).
                selfie_threshold: 0.5,
                on_pass: OnPass::AutoApprove,
                on_fail: OnFail::ManualReview,
                disabled_rules: Vec::new(),
            },
            Flow::Identity => FlowConfig {
                flow,
                photo_id_types: strings(&["passport", "drivers_license", "state_id", "national_id", "residence_permit"]),
                proof_of_address_types: Vec::new(),
                required_roles: vec![DocumentRole::PhotoId, DocumentRole::Selfie],
                country_restrictions: us_only,
                single_role_types: strings(&["drivers_license", "state_id"]),
                // The face model's score for dlib's same-person distance 0.6 (see `attest_extract::face`).
                selfie_threshold: 0.5,
                on_pass: OnPass::AutoApprove,
                on_fail: OnFail::ManualReview,
                disabled_rules: Vec::new(),
            },
        }
    }

    /// The types accepted for `role`; a selfie has the single type `selfie`.
    pub fn types_for(&self, role: DocumentRole) -> Vec<String> {
        match role {
            DocumentRole::PhotoId => self.photo_id_types.clone(),
            DocumentRole::ProofOfAddress => self.proof_of_address_types.clone(),
            DocumentRole::Selfie => vec!["selfie".to_string()],
            DocumentRole::CourtOrder if self.flow == Flow::Usps1583 => vec![COURT_ORDER.to_string()],
            DocumentRole::CourtOrder => Vec::new(),
        }
    }

    /// Every accepted type with its role and whether a machine reads it.
    pub fn type_infos(&self) -> Vec<DocumentTypeInfo> {
        DocumentRole::ALL
            .into_iter()
            .filter(|role| matches!(role, DocumentRole::PhotoId | DocumentRole::CourtOrder) || self.required_roles.contains(role))
            .flat_map(|role| {
                self.types_for(role).into_iter().map(move |t| DocumentTypeInfo { machine_readable: reader_for(role, &t).is_some(), document_type: t, role })
            })
            .collect()
    }

    /// Whether `document_type` issued by `country` is forbidden.
    pub fn is_forbidden(&self, document_type: &str, country: &str) -> bool {
        self.country_restrictions.iter().any(|r| r.document_type == document_type && !r.allowed_countries.iter().any(|c| c == country))
    }

    /// Which role an uploaded type fills, given the types the verification declared.
    pub fn role_of(&self, document_type: &str, declared_photo_id: Option<&str>, declared_poa: Option<&str>) -> Option<DocumentRole> {
        if document_type == "selfie" {
            return Some(DocumentRole::Selfie);
        }
        if document_type == COURT_ORDER {
            return (self.flow == Flow::Usps1583).then_some(DocumentRole::CourtOrder);
        }
        if declared_photo_id == Some(document_type) {
            return Some(DocumentRole::PhotoId);
        }
        if declared_poa == Some(document_type) {
            return Some(DocumentRole::ProofOfAddress);
        }
        if self.photo_id_types.iter().any(|t| t == document_type) {
            return Some(DocumentRole::PhotoId);
        }
        if self.proof_of_address_types.iter().any(|t| t == document_type) {
            return Some(DocumentRole::ProofOfAddress);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_usps_photo_ids_without_a_reader_are_manual_review_types() {
        let infos = FlowConfig::default_for(Flow::Usps1583).type_infos();
        let manual: Vec<&str> = infos.iter().filter(|i| i.role == DocumentRole::PhotoId && !i.machine_readable).map(|i| i.document_type.as_str()).collect();
        assert_eq!(manual, ["tribal_id", "uniformed_service_id", "us_access_card", "university_id", "matricula_consular", "certificate_of_naturalization"]);
        assert!(infos.iter().filter(|i| !matches!(i.role, DocumentRole::PhotoId | DocumentRole::CourtOrder)).all(|i| i.machine_readable));
        assert!(infos.iter().any(|i| i.document_type == COURT_ORDER && !i.machine_readable), "box 4k's court order, read by a person");
        assert_eq!(infos.iter().filter(|i| i.role == DocumentRole::PhotoId).count(), 12);
        let identity = FlowConfig::default_for(Flow::Identity).type_infos();
        assert!(identity.iter().all(|i| i.machine_readable && i.role != DocumentRole::ProofOfAddress), "{identity:?}");
        assert_eq!(FlowConfig::default_for(Flow::Identity).role_of(COURT_ORDER, None, None), None, "no court order outside usps1583");
    }

    #[test]
    fn usps_defaults_follow_the_june_2024_lists() {
        let config = FlowConfig::default_for(Flow::Usps1583);
        assert_eq!(config.photo_id_types.len(), 12);
        assert_eq!(config.proof_of_address_types.len(), 9);
        for never in NEVER_ACCEPTED {
            assert!(!config.photo_id_types.iter().chain(&config.proof_of_address_types).any(|t| t == never));
        }
        assert!(config.is_forbidden("drivers_license", "CA"));
        assert!(!config.is_forbidden("drivers_license", "US"));
        assert!(!config.is_forbidden("passport", "FR"));
        assert_eq!(config.required_roles, vec![DocumentRole::PhotoId, DocumentRole::ProofOfAddress, DocumentRole::Selfie]);
    }

    #[test]
    fn identity_needs_a_photo_id_and_a_selfie() {
        let config = FlowConfig::default_for(Flow::Identity);
        assert_eq!(config.required_roles, vec![DocumentRole::PhotoId, DocumentRole::Selfie]);
        assert!(config.proof_of_address_types.is_empty());
    }

    #[test]
    fn uploaded_types_find_their_role() {
        let config = FlowConfig::default_for(Flow::Usps1583);
        assert_eq!(config.role_of("lease", Some("passport"), Some("lease")), Some(DocumentRole::ProofOfAddress));
        assert_eq!(config.role_of("drivers_license", Some("passport"), Some("drivers_license")), Some(DocumentRole::ProofOfAddress));
        assert_eq!(config.role_of("drivers_license", Some("drivers_license"), Some("lease")), Some(DocumentRole::PhotoId));
        assert_eq!(config.role_of("selfie", None, None), Some(DocumentRole::Selfie));
        assert_eq!(config.role_of("credit_card", None, None), None);
    }
}
