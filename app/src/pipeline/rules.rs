//! The rules of SPEC §5.3 and the decision policy of SPEC §4.
//!
//! Pure functions over what the applicant declared and what the documents said, so
//! every rule is unit-tested without a database. Each rule yields `pass`, `fail` or
//! `not_applicable` with what was expected and what was found, in that order below.

use crate::{
    documents::{Document, DocumentStatus, Extracted},
    flows::{DocumentRole, FlowConfig, OnFail, OnPass},
    verifications::{RuleOutcome, RuleResult, Verification, VerificationStatus},
};
use attest_extract::normalize;
use chrono::NaiveDate;

pub const NAME_MISMATCH: &str = "name_mismatch";
pub const COUNTRY_MISMATCH: &str = "country_mismatch";
pub const DOCUMENT_TYPE_MISMATCH: &str = "document_type_mismatch";
pub const DOCUMENT_NUMBER_MISMATCH: &str = "document_number_mismatch";
pub const DATE_OF_BIRTH_MISMATCH: &str = "date_of_birth_mismatch";
pub const DOCUMENT_EXPIRED: &str = "document_expired";
pub const ADDRESS_BLACKLISTED: &str = "address_blacklisted";
pub const SELFIE_MISMATCH: &str = "selfie_mismatch";

/// The selfie comparison as the pipeline ran it.
#[derive(Debug, Clone, PartialEq)]
pub enum SelfieCheck {
    /// No selfie in this verification (or the flow does not use one).
    Absent,
    /// Both faces found and compared.
    Scored { score: f64, threshold: f64 },
    /// A face was missing on one side (the selfie's own failure is on its document).
    NoFace { on: &'static str },
}

/// Everything the rules look at.
pub struct Inputs<'a> {
    pub verification: &'a Verification,
    pub config: &'a FlowConfig,
    /// The workspace's blacklist, each entry already normalized with
    /// [`normalize::address_text`].
    pub blacklist: &'a [String],
    /// The address of the workspace's own CMRA (its settings), normalized with
    /// [`normalize::address`]; `None` until the workspace has set it.
    pub cmra_address: Option<&'a str>,
    pub selfie: SelfieCheck,
    pub today: NaiveDate,
}

fn rule(name: &str, result: RuleOutcome, expected: impl Into<Option<String>>, found: impl Into<Option<String>>) -> RuleResult {
    RuleResult { name: name.to_string(), result, expected: expected.into(), found: found.into() }
}

fn not_applicable(name: &str) -> RuleResult {
    rule(name, RuleOutcome::NotApplicable, None, None)
}

/// The live (not canceled) document of `role` with extracted data.
fn extracted(v: &Verification, role: DocumentRole) -> Option<(&Document, &Extracted)> {
    v.documents.iter().filter(|d| d.role == role && d.status != DocumentStatus::Canceled).find_map(|d| d.extracted.as_ref().map(|e| (d, e)))
}

fn full_name(first: &str, middle: Option<&str>, last: &str) -> String {
    [Some(first), middle, Some(last)].into_iter().flatten().filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(" ")
}

/// Runs every rule, in the order of SPEC §5.3; a rule the flow switched off
/// (`disabled_rules`) is `not_applicable`.
pub fn evaluate(inputs: &Inputs<'_>) -> Vec<RuleResult> {
    let v = inputs.verification;
    let photo = extracted(v, DocumentRole::PhotoId);
    let poa = extracted(v, DocumentRole::ProofOfAddress);
    let results = vec![
        name_rule(v, [photo, poa]),
        country_rule(photo),
        type_rule(photo),
        number_rule(v, photo),
        dob_rule(v, [photo, poa]),
        expiry_rule([photo, poa], inputs.today),
        blacklist_rule(v, address_document(poa, photo), inputs.blacklist, inputs.cmra_address),
        selfie_rule(&inputs.selfie),
    ];
    results.into_iter().map(|r| if inputs.config.disabled_rules.contains(&r.name) { not_applicable(&r.name) } else { r }).collect()
}

/// Whether the name a document shows is the declared one (`None`: it shows none).
fn name_matches(v: &Verification, e: &Extracted) -> Option<bool> {
    let a = &v.applicant;
    let (first, last) = (e.first_name.as_deref()?, e.last_name.as_deref()?);
    Some(normalize::names_match((&a.first_name, a.middle_name.as_deref(), &a.last_name), (first, e.middle_name.as_deref(), last)))
}

/// Whether a document's expiry (if it shows one) is before `today`; an unparseable
/// expiry counts as expired: we cannot show it is valid.
fn is_expired(e: &Extracted, today: NaiveDate) -> bool {
    e.expiry_date.as_deref().is_some_and(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok().is_none_or(|d| d < today))
}

fn name_rule(v: &Verification, docs: [Option<(&Document, &Extracted)>; 2]) -> RuleResult {
    let a = &v.applicant;
    let expected = full_name(&a.first_name, a.middle_name.as_deref(), &a.last_name);
    let mut found = Vec::new();
    let mut all_match = true;
    for (_, e) in docs.into_iter().flatten() {
        let (Some(first), Some(last), Some(matches)) = (e.first_name.as_deref(), e.last_name.as_deref(), name_matches(v, e)) else { continue };
        found.push(full_name(first, e.middle_name.as_deref(), last));
        all_match &= matches;
    }
    if found.is_empty() {
        return not_applicable(NAME_MISMATCH);
    }
    found.dedup();
    rule(NAME_MISMATCH, if all_match { RuleOutcome::Pass } else { RuleOutcome::Fail }, expected, found.join("; "))
}

fn country_rule(photo: Option<(&Document, &Extracted)>) -> RuleResult {
    let Some((doc, Some(found))) = photo.map(|(d, e)| (d, e.issuing_country.as_deref())) else { return not_applicable(COUNTRY_MISMATCH) };
    let pass = doc.country.eq_ignore_ascii_case(found);
    rule(COUNTRY_MISMATCH, if pass { RuleOutcome::Pass } else { RuleOutcome::Fail }, doc.country.clone(), found.to_string())
}

/// Whether a declared type and the kind a document reports agree. MRZ document codes
/// cannot tell a national ID from a residence permit, so those two share `national_id`.
pub(crate) fn kinds_agree(declared: &str, kind: &str) -> bool {
    declared == kind || (kind == "national_id" && matches!(declared, "residence_permit" | "permanent_resident_card" | "nexus_card"))
}

fn type_rule(photo: Option<(&Document, &Extracted)>) -> RuleResult {
    let Some((doc, Some(kind))) = photo.map(|(d, e)| (d, e.document_kind.as_deref())) else { return not_applicable(DOCUMENT_TYPE_MISMATCH) };
    let pass = kinds_agree(&doc.document_type, kind);
    rule(DOCUMENT_TYPE_MISMATCH, if pass { RuleOutcome::Pass } else { RuleOutcome::Fail }, doc.document_type.clone(), kind.to_string())
}

fn comparable_number(n: &str) -> String {
    n.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

fn number_rule(v: &Verification, photo: Option<(&Document, &Extracted)>) -> RuleResult {
    let declared = v.photo_id.as_ref().and_then(|p| p.number.as_deref()).filter(|n| !n.trim().is_empty());
    let found = photo.and_then(|(_, e)| e.document_number.as_deref());
    let (Some(declared), Some(found)) = (declared, found) else { return not_applicable(DOCUMENT_NUMBER_MISMATCH) };
    let pass = comparable_number(declared) == comparable_number(found);
    rule(DOCUMENT_NUMBER_MISMATCH, if pass { RuleOutcome::Pass } else { RuleOutcome::Fail }, declared.to_string(), found.to_string())
}

fn dob_rule(v: &Verification, docs: [Option<(&Document, &Extracted)>; 2]) -> RuleResult {
    let found: Vec<&str> = docs.into_iter().flatten().filter_map(|(_, e)| e.date_of_birth.as_deref()).collect();
    if found.is_empty() {
        return not_applicable(DATE_OF_BIRTH_MISMATCH);
    }
    let pass = found.iter().all(|d| *d == v.applicant.date_of_birth);
    let mut shown: Vec<&str> = found.clone();
    shown.dedup();
    rule(DATE_OF_BIRTH_MISMATCH, if pass { RuleOutcome::Pass } else { RuleOutcome::Fail }, v.applicant.date_of_birth.clone(), shown.join("; "))
}

fn expiry_rule(docs: [Option<(&Document, &Extracted)>; 2], today: NaiveDate) -> RuleResult {
    let dates: Vec<(String, Option<NaiveDate>)> = docs
        .into_iter()
        .flatten()
        .filter_map(|(_, e)| e.expiry_date.as_deref())
        .map(|d| (d.to_string(), NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()))
        .collect();
    if dates.is_empty() {
        return not_applicable(DOCUMENT_EXPIRED);
    }
    // An unparseable expiry is treated as expired: we cannot show it is valid.
    let expired = dates.iter().find(|(_, d)| d.is_none_or(|d| d < today));
    let (shown, result) = match expired {
        Some((text, _)) => (text.clone(), RuleOutcome::Fail),
        None => (dates.iter().map(|(t, _)| t.as_str()).min().unwrap_or_default().to_string(), RuleOutcome::Pass),
    };
    rule(DOCUMENT_EXPIRED, result, format!("on or after {today}"), shown)
}

/// What `address_blacklisted` expects of the applicant's and the proof's addresses.
const RESIDENTIAL: &str = "a residential address: not a PO box, a private mailbox, this workspace's CMRA or on the blacklist";

/// `address_blacklisted`: the declared address and the one read from the proof of
/// address must be somewhere the applicant lives, not a mail drop. Fails, saying which
/// address and why, for the workspace's own CMRA, a private mailbox designator (an
/// applicant renting a box elsewhere), a PO box, or an entry of the workspace blacklist.
/// The document whose address the blacklist rule checks beside the declared one: the
/// proof of address, or, in a flow without one (identity), the photo ID when it shows
/// an address (a licence).
fn address_document<'v>(poa: Option<(&'v Document, &'v Extracted)>, photo: Option<(&'v Document, &'v Extracted)>) -> Option<(&'v Document, &'v Extracted)> {
    poa.or_else(|| photo.filter(|(_, e)| e.address.is_some()))
}

fn blacklist_rule(v: &Verification, shown: Option<(&Document, &Extracted)>, blacklist: &[String], cmra: Option<&str>) -> RuleResult {
    let a = &v.applicant.address;
    let mut candidates = vec![normalize::address(&a.line1, a.line2.as_deref(), &a.city, &a.state, &a.postal_code)];
    if let Some(found) = shown.and_then(|(_, e)| e.address.as_ref()) {
        candidates.push(normalize::address(&found.line1, found.line2.as_deref(), &found.city, &found.state, &found.postal_code));
    }
    candidates.dedup();
    match candidates.iter().find_map(|c| refusal(c, blacklist, cmra).map(|why| (c, why))) {
        Some((address, why)) => rule(ADDRESS_BLACKLISTED, RuleOutcome::Fail, RESIDENTIAL.to_string(), format!("{address}: {why}")),
        None => rule(ADDRESS_BLACKLISTED, RuleOutcome::Pass, RESIDENTIAL.to_string(), candidates.join("; ")),
    }
}

/// Why a normalized address is not a residence, if it is not. The CMRA comes first: the
/// most specific reason, and its own suites and boxes ("PMB 45") must not hide it.
fn refusal(address: &str, blacklist: &[String], cmra: Option<&str>) -> Option<String> {
    let street = address.split(", ").next().unwrap_or_default();
    if cmra.is_some_and(|cmra| normalize::without_units(cmra) == normalize::without_units(address)) {
        return Some("the address of this workspace's CMRA".into());
    }
    if let Some(pmb) = normalize::private_mailbox(street) {
        return Some(format!("a private mailbox designator ({pmb})"));
    }
    if normalize::is_po_box(street) {
        return Some("a PO box".into());
    }
    blacklist.iter().any(|b| b == address || (!b.contains(", ") && b == street)).then(|| "on the workspace blacklist".into())
}

fn selfie_rule(check: &SelfieCheck) -> RuleResult {
    match check {
        SelfieCheck::Absent => not_applicable(SELFIE_MISMATCH),
        SelfieCheck::NoFace { on } => rule(SELFIE_MISMATCH, RuleOutcome::NotApplicable, None, format!("no face found on the {on}")),
        SelfieCheck::Scored { score, threshold } => rule(
            SELFIE_MISMATCH,
            if score >= threshold { RuleOutcome::Pass } else { RuleOutcome::Fail },
            format!("score ≥ {threshold:.2}"),
            format!("{score:.2}"),
        ),
    }
}

/// The failed rules each document is about, by document id (SPEC §10: a document that
/// failed a rule carries the reason itself). A rule comparing several documents names
/// only those that disagree: `name_mismatch`, `date_of_birth_mismatch` and
/// `document_expired` the photo ID and/or the proof of address; `country_mismatch`,
/// `document_type_mismatch` and `document_number_mismatch` the photo ID;
/// `address_blacklisted` the proof of address (the photo ID in a flow without one);
/// `selfie_mismatch` the selfie.
pub fn failures_by_document(inputs: &Inputs<'_>, results: &[RuleResult]) -> std::collections::BTreeMap<String, Vec<String>> {
    let v = inputs.verification;
    let live = |role: DocumentRole| v.documents.iter().find(|d| d.role == role && d.status != DocumentStatus::Canceled);
    let read = [extracted(v, DocumentRole::PhotoId), extracted(v, DocumentRole::ProofOfAddress)];
    let mut by_document: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for failed in results.iter().filter(|r| r.result == RuleOutcome::Fail) {
        let concerned: Vec<&Document> = match failed.name.as_str() {
            NAME_MISMATCH => read.into_iter().flatten().filter(|(_, e)| name_matches(v, e) == Some(false)).map(|(d, _)| d).collect(),
            DATE_OF_BIRTH_MISMATCH => {
                read.into_iter().flatten().filter(|(_, e)| e.date_of_birth.as_deref().is_some_and(|d| d != v.applicant.date_of_birth)).map(|(d, _)| d).collect()
            }
            DOCUMENT_EXPIRED => read.into_iter().flatten().filter(|(_, e)| is_expired(e, inputs.today)).map(|(d, _)| d).collect(),
            COUNTRY_MISMATCH | DOCUMENT_TYPE_MISMATCH | DOCUMENT_NUMBER_MISMATCH => live(DocumentRole::PhotoId).into_iter().collect(),
            ADDRESS_BLACKLISTED => address_document(read[1], read[0]).map(|(d, _)| d).or_else(|| live(DocumentRole::ProofOfAddress)).into_iter().collect(),
            SELFIE_MISMATCH => live(DocumentRole::Selfie).into_iter().collect(),
            _ => Vec::new(),
        };
        for doc in concerned {
            by_document.entry(doc.id.clone()).or_default().push(failed.name.clone());
        }
    }
    by_document
}

/// The failed rules' names as `verifications.failed_rules` keeps them for the queue's
/// filter (`,name_mismatch,selfie_mismatch,`; `None` when none failed): `rules` itself
/// is sealed personal data.
pub fn failed_key(results: &[RuleResult]) -> Option<String> {
    let failed: Vec<&str> = results.iter().filter(|r| r.result == RuleOutcome::Fail).map(|r| r.name.as_str()).collect();
    (!failed.is_empty()).then(|| format!(",{},", failed.join(",")))
}

/// [`failed_key`] of rules stored as JSON text.
pub fn failed_key_of_json(rules: &str) -> Result<Option<String>, serde_json::Error> {
    Ok(failed_key(&serde_json::from_str::<Vec<RuleResult>>(rules)?))
}

/// The decision policy (SPEC §4): what a checked verification becomes. A check that
/// could not be completed (an extraction failure, a missing face) always goes to a
/// person, whatever the policy says.
pub fn outcome(config: &FlowConfig, rules: &[RuleResult], incomplete: bool) -> VerificationStatus {
    if incomplete {
        return VerificationStatus::NeedsReview;
    }
    if rules.iter().any(|r| r.result == RuleOutcome::Fail) {
        return match config.on_fail {
            OnFail::AutoReject => VerificationStatus::Rejected,
            OnFail::ManualReview => VerificationStatus::NeedsReview,
        };
    }
    match config.on_pass {
        OnPass::AutoApprove => VerificationStatus::Approved,
        OnPass::ManualReview => VerificationStatus::NeedsReview,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        documents::DocumentStatus,
        flows::Flow,
        verifications::{Address, Applicant, PhotoIdSpec},
    };

    fn verification(docs: Vec<Document>) -> Verification {
        Verification {
            id: "ver_1".into(),
            flow: Flow::Usps1583,
            status: VerificationStatus::Submitted,
            reference: None,
            applicant: Applicant {
                first_name: "Zoë".into(),
                middle_name: Some("Ann".into()),
                last_name: "Müller".into(),
                date_of_birth: "1988-02-29".into(),
                email: None,
                phone: None,
                address: Address {
                    line1: "12 North Main Street".into(),
                    line2: Some("Apartment 4".into()),
                    city: "Springfield".into(),
                    state: "IL".into(),
                    postal_code: "62701".into(),
                    country: "US".into(),
                },
            },
            photo_id: Some(PhotoIdSpec { document_type: "drivers_license".into(), country: "US".into(), number: Some("D123-4567".into()) }),
            proof_of_address: None,
            mailbox: None,
            metadata: serde_json::json!({}),
            version: 3,
            documents: docs,
            rules: vec![],
            selfie_match: None,
            decision: None,
            requested_documents: vec![],
            created_at: String::new(),
            updated_at: String::new(),
            legal_hold: false,
            redacted_at: None,
        }
    }

    fn licence(e: Extracted) -> Document {
        Document {
            id: "doc_1".into(),
            verification_id: "ver_1".into(),
            document_type: "drivers_license".into(),
            role: DocumentRole::PhotoId,
            country: "US".into(),
            status: DocumentStatus::Extracted,
            sides: vec!["front".into(), "back".into()],
            extracted: Some(e),
            failure_reason: None,
            decision: None,
            version: 1,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn good() -> Extracted {
        Extracted {
            first_name: Some("ZOE".into()),
            middle_name: Some("A".into()),
            last_name: Some("MULLER".into()),
            date_of_birth: Some("1988-02-29".into()),
            document_number: Some("D1234567".into()),
            expiry_date: Some("2030-01-31".into()),
            issuing_country: Some("US".into()),
            issuing_jurisdiction: Some("IL".into()),
            address: None,
            document_kind: Some("drivers_license".into()),
        }
    }

    fn run(e: Extracted, selfie: SelfieCheck, blacklist: &[String]) -> Vec<RuleResult> {
        let v = verification(vec![licence(e)]);
        let config = FlowConfig::default_for(Flow::Usps1583);
        evaluate(&Inputs { verification: &v, config: &config, blacklist, cmra_address: None, selfie, today: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap() })
    }

    fn result_of(rules: &[RuleResult], name: &str) -> RuleOutcome {
        rules.iter().find(|r| r.name == name).map(|r| r.result).expect("rule present")
    }

    #[test]
    fn a_clean_document_passes_every_rule() {
        let rules = run(good(), SelfieCheck::Scored { score: 0.8, threshold: 0.6 }, &[]);
        assert!(rules.iter().all(|r| r.result == RuleOutcome::Pass), "{rules:#?}");
        assert_eq!(rules.len(), 8);
    }

    #[test]
    fn each_rule_fails_on_its_own() {
        let cases: Vec<(&str, Extracted)> = vec![
            (NAME_MISMATCH, Extracted { first_name: Some("ZORA".into()), ..good() }),
            (COUNTRY_MISMATCH, Extracted { issuing_country: Some("CA".into()), ..good() }),
            (DOCUMENT_TYPE_MISMATCH, Extracted { document_kind: Some("state_id".into()), ..good() }),
            (DOCUMENT_NUMBER_MISMATCH, Extracted { document_number: Some("D7654321".into()), ..good() }),
            (DATE_OF_BIRTH_MISMATCH, Extracted { date_of_birth: Some("1988-03-01".into()), ..good() }),
            (DOCUMENT_EXPIRED, Extracted { expiry_date: Some("2026-11-25".into()), ..good() }),
        ];
        for (name, e) in cases {
            let rules = run(e, SelfieCheck::Absent, &[]);
            let failed: Vec<&str> = rules.iter().filter(|r| r.result == RuleOutcome::Fail).map(|r| r.name.as_str()).collect();
            assert_eq!(failed, vec![name]);
        }
        let rules = run(good(), SelfieCheck::Scored { score: 0.31, threshold: 0.6 }, &[]);
        let selfie = rules.iter().find(|r| r.name == SELFIE_MISMATCH).unwrap();
        assert_eq!((selfie.result, selfie.found.as_deref()), (RuleOutcome::Fail, Some("0.31")));
    }

    #[test]
    fn a_rule_switched_off_for_the_flow_never_fails() {
        let v = verification(vec![licence(Extracted { first_name: Some("ZORA".into()), ..good() })]);
        let mut config = FlowConfig::default_for(Flow::Usps1583);
        config.disabled_rules = vec![NAME_MISMATCH.into()];
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let rules = evaluate(&Inputs { verification: &v, config: &config, blacklist: &[], cmra_address: None, selfie: SelfieCheck::Absent, today });
        assert_eq!(result_of(&rules, NAME_MISMATCH), RuleOutcome::NotApplicable);
        assert_eq!(outcome(&config, &rules, false), VerificationStatus::Approved);
    }

    #[test]
    fn blacklist_compares_publication_28_forms() {
        let entry = normalize::address_text("12 N Main St Apt 4, Springfield, IL 62701");
        let rules = run(good(), SelfieCheck::Absent, &[entry]);
        assert_eq!(result_of(&rules, ADDRESS_BLACKLISTED), RuleOutcome::Fail);
        let rules = run(good(), SelfieCheck::Absent, &[normalize::address_text("13 N Main St, Springfield, IL 62701")]);
        assert_eq!(result_of(&rules, ADDRESS_BLACKLISTED), RuleOutcome::Pass);
    }

    /// The applicant's declared address with `line1`/`line2`, and a proof of address
    /// reading `poa` (line1, line2), checked against the CMRA at `cmra`.
    fn address_rule(line1: &str, line2: Option<&str>, poa: Option<(&str, Option<&str>)>, cmra: Option<&str>) -> RuleResult {
        let mut docs = vec![licence(good())];
        if let Some((l1, l2)) = poa {
            let address = Address {
                line1: l1.into(),
                line2: l2.map(str::to_string),
                city: "Springfield".into(),
                state: "IL".into(),
                postal_code: "62701".into(),
                country: "US".into(),
            };
            let lease = Document {
                id: "doc_2".into(),
                document_type: "lease".into(),
                role: DocumentRole::ProofOfAddress,
                extracted: Some(Extracted { address: Some(address), ..Extracted::default() }),
                ..licence(good())
            };
            docs.push(lease);
        }
        let mut v = verification(docs);
        v.applicant.address.line1 = line1.into();
        v.applicant.address.line2 = line2.map(str::to_string);
        let config = FlowConfig::default_for(Flow::Usps1583);
        let cmra = cmra.map(normalize::address_text);
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let rules = evaluate(&Inputs { verification: &v, config: &config, blacklist: &[], cmra_address: cmra.as_deref(), selfie: SelfieCheck::Absent, today });
        rules.into_iter().find(|r| r.name == ADDRESS_BLACKLISTED).expect("rule present")
    }

    const CMRA: &str = "123 Main Street Suite 100, Springfield, IL 62701";

    #[test]
    fn an_applicant_at_the_workspaces_own_cmra_fails_and_says_so() {
        for (line1, line2) in [("123 Main St", None), ("123 N Main St", Some("PMB 45")), ("123 Main Street, Ste 100", None)] {
            let r = address_rule(line1, line2, None, Some(CMRA));
            let found = r.found.unwrap_or_default();
            let expected = if line1.contains(" N ") { "private mailbox" } else { "the address of this workspace's CMRA" };
            assert_eq!(r.result, RuleOutcome::Fail, "{line1} {line2:?}");
            assert!(found.contains(expected), "{line1} {line2:?}: {found}");
        }
        // The proof of address read at the CMRA, the declared address elsewhere.
        let r = address_rule("12 North Main Street", None, Some(("123 MAIN ST", Some("STE 100"))), Some(CMRA));
        assert_eq!(r.result, RuleOutcome::Fail);
        assert_eq!(r.found.as_deref(), Some("123 MAIN ST STE 100, SPRINGFIELD, IL, 62701: the address of this workspace's CMRA"));
        // Next door, or no CMRA set: a residence.
        assert_eq!(address_rule("125 Main St", None, None, Some(CMRA)).result, RuleOutcome::Pass);
        assert_eq!(address_rule("123 Main St", None, None, None).result, RuleOutcome::Pass);
    }

    #[test]
    fn a_private_mailbox_designator_fails_and_says_which() {
        for (line1, line2, pmb) in [
            ("12 Elm St", Some("PMB 45"), "PMB 45"),
            ("12 Elm St PMB #45", None, "PMB 45"),
            ("12 Elm St #45", None, "#45"),
            ("12 Elm St", Some("#312"), "#312"),
        ] {
            let r = address_rule(line1, line2, None, Some(CMRA));
            assert_eq!(r.result, RuleOutcome::Fail, "{line1} {line2:?}");
            assert!(r.found.as_deref().unwrap_or_default().ends_with(&format!("a private mailbox designator ({pmb})")), "{:?}", r.found);
        }
        // On the proof of address only.
        let r = address_rule("12 Elm St", None, Some(("12 ELM ST", Some("PMB 9"))), None);
        assert_eq!((r.result, r.found.as_deref()), (RuleOutcome::Fail, Some("12 ELM ST PMB 9, SPRINGFIELD, IL, 62701: a private mailbox designator (PMB 9)")));
    }

    #[test]
    fn apartments_suites_house_numbers_and_zips_are_not_mailboxes() {
        for (line1, line2) in [
            ("12 Elm St", Some("Apt 5B")),
            ("12 Elm St", Some("Suite 200")),
            ("12 Elm St Unit 3", None),
            ("4500 Elm St", Some("Apt #4")),
            ("62701 Elm St", None),
        ] {
            let r = address_rule(line1, line2, None, Some(CMRA));
            assert_eq!(r.result, RuleOutcome::Pass, "{line1} {line2:?}: {:?}", r.found);
        }
    }

    #[test]
    fn po_boxes_and_blacklist_entries_say_which() {
        assert_eq!(address_rule("PO Box 12", None, None, None).found.as_deref(), Some("PO BOX 12, SPRINGFIELD, IL, 62701: a PO box"));
        let rules = run(good(), SelfieCheck::Absent, &[normalize::address_text("12 N Main St Apt 4, Springfield, IL 62701")]);
        let r = rules.iter().find(|r| r.name == ADDRESS_BLACKLISTED).unwrap();
        assert_eq!(r.found.as_deref(), Some("12 N MAIN ST APT 4, SPRINGFIELD, IL, 62701: on the workspace blacklist"));
    }

    #[test]
    fn missing_data_is_not_applicable_not_a_pass() {
        let rules = run(Extracted::default(), SelfieCheck::Absent, &[]);
        for name in
            [NAME_MISMATCH, COUNTRY_MISMATCH, DOCUMENT_TYPE_MISMATCH, DOCUMENT_NUMBER_MISMATCH, DATE_OF_BIRTH_MISMATCH, DOCUMENT_EXPIRED, SELFIE_MISMATCH]
        {
            assert_eq!(result_of(&rules, name), RuleOutcome::NotApplicable, "{name}");
        }
    }

    /// A failed rule names the documents it is about, and only those that disagree; a
    /// canceled (replaced) document is never blamed.
    #[test]
    fn a_failed_rule_is_carried_by_the_document_it_is_about() {
        let poa = |id: &str, status: DocumentStatus, e: Extracted| Document {
            id: id.into(),
            role: DocumentRole::ProofOfAddress,
            document_type: "lease".into(),
            status,
            sides: vec!["front".into()],
            ..licence(e)
        };
        let selfie = Document { id: "doc_selfie".into(), role: DocumentRole::Selfie, document_type: "selfie".into(), extracted: None, ..licence(good()) };
        let poa_says = Extracted { first_name: Some("ZOE".into()), last_name: Some("SMITH".into()), ..Default::default() };
        let v = verification(vec![
            licence(Extracted { expiry_date: Some("2026-11-25".into()), ..good() }),
            poa("doc_old_poa", DocumentStatus::Canceled, poa_says.clone()),
            poa("doc_poa", DocumentStatus::Extracted, poa_says),
            selfie,
        ]);
        let config = FlowConfig::default_for(Flow::Usps1583);
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let blacklist = [normalize::address_text("12 N Main St Apt 4, Springfield, IL 62701")];
        let inputs = Inputs {
            verification: &v,
            config: &config,
            blacklist: &blacklist,
            cmra_address: None,
            selfie: SelfieCheck::Scored { score: 0.2, threshold: 0.6 },
            today,
        };
        let rules = evaluate(&inputs);
        let by_document = failures_by_document(&inputs, &rules);
        assert_eq!(by_document.get("doc_1"), Some(&vec![DOCUMENT_EXPIRED.to_string()]), "the licence's name matches: {by_document:?}");
        assert_eq!(by_document.get("doc_poa"), Some(&vec![NAME_MISMATCH.to_string(), ADDRESS_BLACKLISTED.to_string()]));
        assert_eq!(by_document.get("doc_selfie"), Some(&vec![SELFIE_MISMATCH.to_string()]));
        assert_eq!(by_document.get("doc_old_poa"), None, "a replaced document is not blamed");
    }

    #[test]
    fn policy_follows_the_flow_configuration() {
        let mut config = FlowConfig::default_for(Flow::Identity);
        let pass = vec![rule(NAME_MISMATCH, RuleOutcome::Pass, None, None)];
        let fail = vec![rule(NAME_MISMATCH, RuleOutcome::Fail, None, None)];
        assert_eq!(outcome(&config, &pass, false), VerificationStatus::Approved);
        assert_eq!(outcome(&config, &fail, false), VerificationStatus::NeedsReview);
        assert_eq!(outcome(&config, &pass, true), VerificationStatus::NeedsReview);
        config.on_fail = OnFail::AutoReject;
        config.on_pass = OnPass::ManualReview;
        assert_eq!(outcome(&config, &fail, false), VerificationStatus::Rejected);
        assert_eq!(outcome(&config, &pass, false), VerificationStatus::NeedsReview);
    }
}
