//! Sandbox test data (SPEC §5.5): magic applicant last names that drive every outcome
//! without a real ID. In sandbox, a verification whose `applicant.last_name` is one of
//! these is "read" by this module instead of the real extractors: the documents say
//! exactly what the applicant declared, except for the one thing the scenario changes.
//! Production refuses these names when the verification is created.

use crate::{
    documents::Extracted,
    flows::DocumentRole,
    verifications::{Address, Verification},
};
use attest_extract::Failure;

/// The message of the 422 that production answers to test data.
pub const REFUSED_IN_PRODUCTION: &str = "Sandbox test data is not accepted in production.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Approve,
    NameMismatch,
    CountryMismatch,
    TypeMismatch,
    NumberMismatch,
    DobMismatch,
    Expired,
    Blacklisted,
    SelfieMismatch,
    NoFace,
    ExtractionFailed,
}

/// Magic last names and what they do (the README's table is generated from the same
/// list by a test, so the two cannot drift).
pub const SCENARIOS: [(&str, Scenario, &str); 11] = [
    ("sandbox-approve", Scenario::Approve, "every rule passes; approved (with the default policy)"),
    ("sandbox-name-mismatch", Scenario::NameMismatch, "the photo ID carries another first name: `name_mismatch` fails"),
    ("sandbox-country-mismatch", Scenario::CountryMismatch, "the photo ID was issued by another country: `country_mismatch` fails"),
    ("sandbox-type-mismatch", Scenario::TypeMismatch, "the photo ID is another kind of document: `document_type_mismatch` fails"),
    ("sandbox-number-mismatch", Scenario::NumberMismatch, "the photo ID has another number (declare `photo_id.number`): `document_number_mismatch` fails"),
    ("sandbox-dob-mismatch", Scenario::DobMismatch, "the photo ID has another date of birth: `date_of_birth_mismatch` fails"),
    ("sandbox-expired", Scenario::Expired, "the photo ID expired: `document_expired` fails"),
    ("sandbox-blacklisted", Scenario::Blacklisted, "the proof of address (in the identity flow, the photo ID) shows a PO box: `address_blacklisted` fails"),
    ("sandbox-selfie-mismatch", Scenario::SelfieMismatch, "the selfie is someone else (score 0.12): `selfie_mismatch` fails"),
    (
        "sandbox-no-face",
        Scenario::NoFace,
        "no face in the selfie: the selfie is `extraction_failed` (`no_face_found`), no selfie score, `selfie_mismatch` not applicable, needs_review",
    ),
    (
        "sandbox-extraction-failed",
        Scenario::ExtractionFailed,
        "the photo ID cannot be read: `extraction_failed` (`barcode_not_found` or `mrz_unreadable`), needs_review",
    ),
];

impl Scenario {
    /// The scenario a last name selects, if it is a magic one.
    pub fn from_last_name(last_name: &str) -> Option<Scenario> {
        let name = last_name.trim().to_ascii_lowercase();
        SCENARIOS.iter().find(|(magic, _, _)| *magic == name).map(|(_, s, _)| *s)
    }

    /// Whether `last_name` looks like test data (any `sandbox-` name), for production's refusal.
    pub fn is_test_data(last_name: &str) -> bool {
        last_name.trim().to_ascii_lowercase().starts_with("sandbox-")
    }

    /// The selfie score this scenario produces.
    pub fn selfie_score(self) -> f64 {
        if self == Scenario::SelfieMismatch {
            0.12
        } else {
            0.93
        }
    }

    /// What a document of `role` and `document_type` "says" under this scenario.
    pub fn read(self, v: &Verification, role: DocumentRole, document_type: &str, country: &str) -> Result<Option<Extracted>, Failure> {
        let a = &v.applicant;
        match role {
            DocumentRole::Selfie => {
                return if self == Scenario::NoFace { Err(Failure::NoFaceFound) } else { Ok(None) };
            }
            DocumentRole::CourtOrder => return Ok(None),
            DocumentRole::PhotoId if self == Scenario::ExtractionFailed => {
                return Err(if matches!(document_type, "drivers_license" | "state_id") { Failure::BarcodeNotFound } else { Failure::MrzUnreadable });
            }
            _ => {}
        }
        let licence = matches!(document_type, "drivers_license" | "state_id");
        let mut e = Extracted {
            first_name: Some(a.first_name.to_uppercase()),
            middle_name: a.middle_name.as_ref().map(|m| m.to_uppercase()),
            last_name: Some(a.last_name.to_uppercase()),
            date_of_birth: Some(a.date_of_birth.clone()),
            document_number: v.photo_id.as_ref().and_then(|p| p.number.clone()).or(Some("S0000001".into())),
            expiry_date: Some("2031-12-31".into()),
            issuing_country: Some(country.to_string()),
            issuing_jurisdiction: licence.then(|| a.address.state.clone()),
            address: (role == DocumentRole::ProofOfAddress || licence).then(|| a.address.clone()),
            document_kind: Some(document_type.to_string()),
        };
        // Without a proof of address (the identity flow) the photo ID shows the PO box.
        if self == Scenario::Blacklisted && role == DocumentRole::PhotoId && v.proof_of_address.is_none() {
            e.address = Some(Address { line1: "PO Box 1583".into(), line2: None, ..a.address.clone() });
        }
        if role == DocumentRole::ProofOfAddress {
            if !licence {
                // A lease or a bill: a name and an address, nothing else.
                e = Extracted { first_name: e.first_name, middle_name: e.middle_name, last_name: e.last_name, address: e.address, ..Extracted::default() };
            }
            if self == Scenario::Blacklisted {
                e.address = Some(Address { line1: "PO Box 1583".into(), line2: None, ..a.address.clone() });
            }
            return Ok(Some(e));
        }
        match self {
            Scenario::NameMismatch => e.first_name = Some(if a.first_name.eq_ignore_ascii_case("alex") { "JORDAN" } else { "ALEX" }.into()),
            Scenario::CountryMismatch => e.issuing_country = Some(if country == "CA" { "US" } else { "CA" }.into()),
            Scenario::TypeMismatch => e.document_kind = Some(mismatched_kind(document_type).into()),
            Scenario::NumberMismatch => e.document_number = Some("X9999999".into()),
            Scenario::DobMismatch => e.date_of_birth = Some(shift_year(&a.date_of_birth)),
            Scenario::Expired => e.expiry_date = Some("2024-01-31".into()),
            _ => {}
        }
        Ok(Some(e))
    }
}

/// A kind that never agrees with `declared` (see `rules::kinds_agree`): a licence
/// reads as the other licence type; any other photo ID (passport, national ID,
/// residence permit, permanent resident card, NEXUS, the manual-review types) as a
/// driver's licence.
fn mismatched_kind(declared: &str) -> &'static str {
    match declared {
        "drivers_license" => "state_id",
        _ => "drivers_license",
    }
}

fn shift_year(date: &str) -> String {
    match date.split_once('-') {
        Some((year, rest)) => match year.parse::<i32>() {
            Ok(y) => format!("{:04}-{rest}", y - 1),
            Err(_) => "1900-01-01".into(),
        },
        None => "1900-01-01".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_names_are_recognized_case_insensitively() {
        assert_eq!(Scenario::from_last_name(" Sandbox-Expired "), Some(Scenario::Expired));
        assert_eq!(Scenario::from_last_name("Lovelace"), None);
        assert!(Scenario::is_test_data("SANDBOX-anything"));
        assert!(!Scenario::is_test_data("Sandbach"));
        let names: std::collections::HashSet<_> = SCENARIOS.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(names.len(), SCENARIOS.len());
    }

    #[test]
    fn type_mismatch_disagrees_for_every_photo_id_type() {
        use crate::flows::{Flow, FlowConfig};
        for flow in [Flow::Usps1583, Flow::Identity] {
            for declared in FlowConfig::default_for(flow).photo_id_types {
                let kind = mismatched_kind(&declared);
                assert!(!crate::pipeline::rules::kinds_agree(&declared, kind), "{declared} reads as {kind}");
            }
        }
    }

    #[test]
    fn readme_lists_every_magic_name() {
        let readme = include_str!("../../../README.md");
        for (name, _, _) in SCENARIOS {
            assert!(readme.contains(&format!("`{name}`")), "README.md does not document {name}");
        }
    }
}
