//! PS Form 1583 filled in from an approved verification: what the pipeline read from the
//! documents, falling back to what the applicant declared, box by box; and the record as
//! a printable PDF in our own layout.

use super::{
    pdf::{self, Section},
    service::document_of,
    CmraProfile, Form1583, BOXES, BUSINESS_BOXES,
};
use crate::{
    documents::Extracted,
    flows::DocumentRole,
    verifications::{Address, Mailbox, ServiceType, Verification},
};

/// A document type code as people read it: `drivers_license` → "Driver's license".
pub fn type_label(code: &str) -> String {
    match code {
        "drivers_license" => "Driver's license".into(),
        "state_id" => "State ID card".into(),
        "passport" => "Passport".into(),
        "passport_card" => "Passport card".into(),
        "uniformed_service_id" => "Uniformed service ID".into(),
        "us_access_card" => "US access card".into(),
        "permanent_resident_card" => "Permanent resident card".into(),
        other => {
            let text = other.replace('_', " ");
            let mut chars = text.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    }
}

fn one_line(a: &Address) -> String {
    let street = [Some(a.line1.as_str()), a.line2.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
    format!("{street}, {}, {} {}, {}", a.city, a.state, a.postal_code, a.country)
}

fn street(a: &Address) -> String {
    [Some(a.line1.as_str()), a.line2.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ")
}

fn full_name(first: Option<&str>, middle: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, middle, last].into_iter().flatten().filter(|p| !p.trim().is_empty()).collect::<Vec<_>>().join(" ");
    (!name.is_empty()).then_some(name)
}

fn name_on(e: &Extracted) -> Option<String> {
    full_name(e.first_name.as_deref(), e.middle_name.as_deref(), e.last_name.as_deref())
}

/// Who issued a document: the jurisdiction and country it shows, or the declared country.
fn authority(e: Option<&Extracted>, declared_country: &str) -> String {
    let country = e.and_then(|e| e.issuing_country.clone()).unwrap_or_else(|| declared_country.to_string());
    match e.and_then(|e| e.issuing_jurisdiction.clone()) {
        Some(jurisdiction) if jurisdiction != country => format!("{jurisdiction}, {country}"),
        _ => country,
    }
}

/// The record of `v`, box by box; box 8 from `photo` (the latest approved
/// re-verification, or `v`), box 2 from the workspace's CMRA `profile`.
pub fn boxes(v: &Verification, photo: &Verification, profile: Option<&CmraProfile>) -> Form1583 {
    let mut f = Form1583::new();
    let mut put = |key: &str, value: Option<String>| {
        f.insert(key.to_string(), value.filter(|v| !v.trim().is_empty()));
    };
    let a = &v.applicant;
    let mailbox = v.mailbox.clone();
    put("1a", mailbox.as_ref().and_then(|m| m.opened_on.clone()));
    put("1b", mailbox.as_ref().and_then(|m| m.closed_on.clone()));
    let cmra =
        profile.map(|p| format!("{}, {}", p.name, one_line(&p.address))).or_else(|| mailbox.as_ref().and_then(|m| m.cmra_address.as_ref()).map(one_line));
    let pmb = mailbox.as_ref().map(|m| format!("PMB {}", m.pmb));
    put(
        "2",
        match (cmra, pmb) {
            (Some(c), Some(p)) => Some(format!("{c} ({p})")),
            (c, p) => c.or(p),
        },
    );
    put("3", mailbox.as_ref().and_then(|m| m.service_type).map(|s| s.code().to_string()));
    put("4a", Some(a.last_name.clone()));
    put("4b", Some(a.first_name.clone()));
    put("4c", a.middle_name.clone());
    put("4d", Some(a.date_of_birth.clone()));
    put("4e", Some(street(&a.address)));
    put("4f", Some(a.address.city.clone()));
    put("4g", Some(a.address.state.clone()));
    put("4h", Some(a.address.postal_code.clone()));
    put("4i", Some(a.address.country.clone()));
    put("4j", Some([a.phone.as_deref(), a.email.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" / ")));
    put("4k", Some(protected_individual(v, mailbox.as_ref())));
    if mailbox.as_ref().and_then(|m| m.service_type) == Some(ServiceType::Business) {
        let business = mailbox.as_ref().and_then(|m| m.business.clone());
        put("5", business.as_ref().map(|b| b.name.clone()));
        put("6", business.as_ref().and_then(|b| b.address.as_ref()).map(one_line));
        put(
            "7",
            business.as_ref().map(|b| {
                [b.business_type.clone(), b.registered_in.as_ref().map(|r| format!("registered in {r}"))].into_iter().flatten().collect::<Vec<_>>().join(", ")
            }),
        );
    }

    let photo_doc = document_of(photo, DocumentRole::PhotoId);
    let photo_read = photo_doc.and_then(|d| d.extracted.as_ref());
    let declared = photo.photo_id.as_ref();
    put("8a", photo_read.and_then(name_on).or_else(|| full_name(Some(&a.first_name), a.middle_name.as_deref(), Some(&a.last_name))));
    put("8b", photo_read.and_then(|e| e.document_number.clone()).or_else(|| declared.and_then(|p| p.number.clone())));
    let photo_country = photo_doc.map(|d| d.country.clone()).or_else(|| declared.map(|p| p.country.clone())).unwrap_or_default();
    put("8c", Some(authority(photo_read, &photo_country)));
    put("8d", photo_read.and_then(|e| e.expiry_date.clone()));
    put("8e", photo_doc.map(|d| d.document_type.clone()).or_else(|| declared.map(|p| p.document_type.clone())).map(|t| type_label(&t)));

    let address_doc = document_of(v, DocumentRole::ProofOfAddress);
    let address_read = address_doc.and_then(|d| d.extracted.as_ref());
    let shown = address_read.and_then(|e| e.address.clone()).unwrap_or_else(|| a.address.clone());
    put("9a", address_read.and_then(name_on).or_else(|| full_name(Some(&a.first_name), a.middle_name.as_deref(), Some(&a.last_name))));
    put("9b", Some(street(&shown)));
    put("9c", Some(shown.city.clone()));
    put("9d", Some(shown.state.clone()));
    put("9e", Some(shown.postal_code.clone()));
    let address_country = address_doc.map(|d| d.country.clone()).or_else(|| v.proof_of_address.as_ref().map(|p| p.country.clone())).unwrap_or_default();
    put("9f", Some(authority(address_read, &address_country)));
    put("9g", address_doc.map(|d| d.document_type.clone()).or_else(|| v.proof_of_address.as_ref().map(|p| p.document_type.clone())).map(|t| type_label(&t)));
    f
}

/// The record as a printable PDF: every box by number and name, grouped as on the form.
pub fn pdf(v: &Verification, boxes: &Form1583) -> Vec<u8> {
    const GROUPS: [(&str, &str); 8] = [
        ("1", "1. CMRA service dates"),
        ("2", "2. CMRA"),
        ("3", "3. Type of service"),
        ("4", "4. Applicant"),
        ("5", "5-7. Business"),
        ("8", "8. Photo identification"),
        ("9", "9. Address identification"),
        ("", ""),
    ];
    fn group_of(key: &str) -> &str {
        match key {
            "6" | "7" => "5",
            k => &k[..1],
        }
    }
    let mut sections: Vec<Section> = Vec::new();
    for (key, name) in BOXES {
        if BUSINESS_BOXES.contains(key) && !boxes.contains_key(*key) {
            continue;
        }
        let group = group_of(key);
        let heading = GROUPS.iter().find(|(g, _)| *g == group).map(|(_, h)| h.to_string()).unwrap_or_default();
        if sections.last().is_none_or(|s| s.heading != heading) {
            sections.push(Section { heading, rows: Vec::new() });
        }
        let value = boxes.get(*key).cloned().flatten().unwrap_or_default();
        sections.last_mut().expect("a section").rows.push((format!("{key}  {name}"), value));
    }
    let pmb = v.mailbox.as_ref().map(|m| m.pmb.clone()).unwrap_or_default();
    let decided = v.decision.as_ref().map(|d| format!("approved {} by {}", crate::dates::to_minute(&d.at), d.by)).unwrap_or_default();
    let intro = vec![
        format!("Verification {} ({decided}).", v.id),
        "Filled in by Attest from the documents read by its pipeline and the applicant's declaration; our own layout, each box numbered and named as on PS Form 1583 (June 2024).".to_string(),
    ];
    pdf::render(&format!("PS Form 1583 record - PMB {pmb}"), &intro, &sections)
}

/// Box 4k: "No", or "Yes" with the court order attached (its document id; the evidence
/// pack holds the file).
fn protected_individual(v: &Verification, mailbox: Option<&Mailbox>) -> String {
    if !mailbox.and_then(|m| m.protected_individual).unwrap_or(false) {
        return "No".to_string();
    }
    match document_of(v, DocumentRole::CourtOrder) {
        Some(order) => format!("Yes (court order attached: {})", order.id),
        None => "Yes (court order not attached)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes_read_as_words() {
        assert_eq!(type_label("drivers_license"), "Driver's license");
        assert_eq!(type_label("vehicle_registration"), "Vehicle registration");
    }
}
