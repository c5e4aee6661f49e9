//! Validation of verification bodies into typed input, collecting every field error
//! (a 422's `errors` object keyed by field path) instead of stopping at the first.

use super::{Address, Applicant, Business, Mailbox, PhotoIdSpec, ProofOfAddressSpec, ServiceType};
use crate::{
    error::{AppError, FieldErrors},
    flows::{Flow, FlowConfig, NEVER_ACCEPTED},
};
use serde_json::{Map, Value};

/// A validated create request.
#[derive(Debug, Clone)]
pub struct CreateInput {
    pub reference: Option<String>,
    pub applicant: Applicant,
    pub photo_id: PhotoIdSpec,
    pub proof_of_address: Option<ProofOfAddressSpec>,
    pub mailbox: Option<Mailbox>,
    pub metadata: Value,
}

/// A validated update: only the fields given change.
#[derive(Debug, Clone, Default)]
pub struct UpdateInput {
    pub reference: Option<Option<String>>,
    pub applicant: Option<Applicant>,
    pub metadata: Option<Value>,
    /// The mailbox with the given fields merged in (usps1583 only).
    pub mailbox: Option<Mailbox>,
}

/// The one change an approved record takes: `{"mailbox": {"closed_on": "YYYY-MM-DD"}}`.
pub const ONLY_CLOSED_ON: &str = "Once the verification is approved only mailbox.closed_on may change.";

const MAX_TEXT: usize = 255;
const MAX_METADATA_BYTES: usize = 8 * 1024;

struct Checker {
    errors: FieldErrors,
}

impl Checker {
    fn new() -> Self {
        Checker { errors: FieldErrors::new() }
    }

    fn add(&mut self, path: &str, message: String) {
        self.errors.entry(path.to_string()).or_default().push(message);
    }

    fn object<'a>(&mut self, parent: &'a Map<String, Value>, key: &str, path: &str, required: bool) -> Option<&'a Map<String, Value>> {
        match parent.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.add(path, format!("The {path} field is required."));
                }
                None
            }
            Some(Value::Object(map)) => Some(map),
            Some(_) => {
                self.add(path, format!("The {path} must be an object."));
                None
            }
        }
    }

    fn text(&mut self, parent: &Map<String, Value>, key: &str, path: &str, required: bool) -> Option<String> {
        match parent.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.add(path, format!("The {path} field is required."));
                }
                None
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    if required {
                        self.add(path, format!("The {path} field is required."));
                    }
                    None
                } else if s.chars().count() > MAX_TEXT {
                    self.add(path, format!("The {path} may not be greater than {MAX_TEXT} characters."));
                    None
                } else {
                    Some(s.to_string())
                }
            }
            Some(_) => {
                self.add(path, format!("The {path} must be a string."));
                None
            }
        }
    }

    fn country(&mut self, parent: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        let value = self.text(parent, key, path, true)?;
        if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
            Some(value)
        } else {
            self.add(path, format!("The {path} must be an ISO 3166-1 alpha-2 country code (e.g. US)."));
            None
        }
    }

    fn unknown_fields(&mut self, map: &Map<String, Value>, prefix: &str, allowed: &[&str]) {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                self.add(&path, format!("The {path} field is not recognised."));
            }
        }
    }

    fn address(&mut self, map: &Map<String, Value>, path: &str) -> Option<Address> {
        self.unknown_fields(map, path, &["line1", "line2", "city", "state", "postal_code", "country"]);
        let line1 = self.text(map, "line1", &format!("{path}.line1"), true);
        let line2 = self.text(map, "line2", &format!("{path}.line2"), false);
        let city = self.text(map, "city", &format!("{path}.city"), true);
        let state = self.text(map, "state", &format!("{path}.state"), true);
        let postal_code = self.text(map, "postal_code", &format!("{path}.postal_code"), true);
        let country = self.country(map, "country", &format!("{path}.country"));
        Some(Address { line1: line1?, line2, city: city?, state: state?, postal_code: postal_code?, country: country? })
    }

    fn applicant(&mut self, map: &Map<String, Value>) -> Option<Applicant> {
        self.unknown_fields(map, "applicant", &["first_name", "middle_name", "last_name", "date_of_birth", "email", "phone", "address"]);
        let first_name = self.text(map, "first_name", "applicant.first_name", true);
        let middle_name = self.text(map, "middle_name", "applicant.middle_name", false);
        let last_name = self.text(map, "last_name", "applicant.last_name", true);
        let date_of_birth =
            self.text(map, "date_of_birth", "applicant.date_of_birth", true).and_then(|d| match chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
                Ok(date) if d.len() == 10 && date < chrono::Utc::now().date_naive() => Some(d),
                Ok(_) if d.len() == 10 => {
                    self.add("applicant.date_of_birth", "The applicant.date_of_birth must be a date before today.".into());
                    None
                }
                _ => {
                    self.add("applicant.date_of_birth", "The applicant.date_of_birth is not a valid date (YYYY-MM-DD).".into());
                    None
                }
            });
        let email = self.text(map, "email", "applicant.email", false).and_then(|e| {
            if e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')) && !e.contains(char::is_whitespace) {
                Some(e)
            } else {
                self.add("applicant.email", "The applicant.email must be a valid email address.".into());
                None
            }
        });
        let phone = self.text(map, "phone", "applicant.phone", false);
        let address = self.object(map, "address", "applicant.address", true).and_then(|a| self.address(a, "applicant.address"));
        Some(Applicant { first_name: first_name?, middle_name, last_name: last_name?, date_of_birth: date_of_birth?, email, phone, address: address? })
    }

    fn date(&mut self, parent: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        let text = self.text(parent, key, path, false)?;
        match chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(_) if text.len() == 10 => Some(text),
            _ => {
                self.add(path, format!("The {path} is not a valid date (YYYY-MM-DD)."));
                None
            }
        }
    }

    /// The mailbox object (the PS Form 1583 record's own fields).
    fn mailbox(&mut self, m: &Map<String, Value>) -> Option<Mailbox> {
        self.unknown_fields(m, "mailbox", &["pmb", "cmra_address", "opened_on", "closed_on", "service_type", "protected_individual", "business"]);
        let pmb = self.text(m, "pmb", "mailbox.pmb", true);
        let cmra_address = self.object(m, "cmra_address", "mailbox.cmra_address", false).and_then(|a| self.address(a, "mailbox.cmra_address"));
        let opened_on = self.date(m, "opened_on", "mailbox.opened_on");
        let closed_on = self.date(m, "closed_on", "mailbox.closed_on");
        if let (Some(opened), Some(closed)) = (&opened_on, &closed_on) {
            if closed < opened {
                self.add("mailbox.closed_on", "The mailbox.closed_on must be a date on or after mailbox.opened_on.".into());
            }
        }
        let service_type = self.text(m, "service_type", "mailbox.service_type", false).and_then(|t| match t.as_str() {
            "business" => Some(ServiceType::Business),
            "residential" => Some(ServiceType::Residential),
            _ => {
                self.add("mailbox.service_type", "The selected mailbox.service_type is invalid (business or residential).".into());
                None
            }
        });
        let protected_individual = match m.get("protected_individual") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.add("mailbox.protected_individual", "The mailbox.protected_individual must be true or false.".into());
                None
            }
        };
        let business = self.object(m, "business", "mailbox.business", false).and_then(|b| {
            self.unknown_fields(b, "mailbox.business", &["name", "address", "type", "registered_in"]);
            let name = self.text(b, "name", "mailbox.business.name", true);
            let address = self.object(b, "address", "mailbox.business.address", false).and_then(|a| self.address(a, "mailbox.business.address"));
            let business_type = self.text(b, "type", "mailbox.business.type", false);
            let registered_in = self.text(b, "registered_in", "mailbox.business.registered_in", false);
            Some(Business { name: name?, address, business_type, registered_in })
        });
        if business.is_some() && service_type != Some(ServiceType::Business) {
            self.add("mailbox.business", "The mailbox.business is only for a mailbox whose service_type is business.".into());
        }
        if service_type == Some(ServiceType::Business) && business.is_none() && !self.errors.contains_key("mailbox.business.name") {
            self.add("mailbox.business", "The mailbox.business field is required when service_type is business.".into());
        }
        Some(Mailbox { pmb: pmb?, cmra_address, opened_on, closed_on, service_type, protected_individual, business })
    }

    fn metadata(&mut self, body: &Map<String, Value>) -> Value {
        match body.get("metadata") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(Value::Object(m)) => {
                if serde_json::to_string(m).map(|s| s.len()).unwrap_or(usize::MAX) > MAX_METADATA_BYTES {
                    self.add("metadata", format!("The metadata may not be larger than {} KB.", MAX_METADATA_BYTES / 1024));
                }
                Value::Object(m.clone())
            }
            Some(_) => {
                self.add("metadata", "The metadata must be an object.".into());
                Value::Null
            }
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, AppError> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(AppError::Validation(self.errors)),
        }
    }
}

fn document_type_check(c: &mut Checker, path: &str, document_type: &Option<String>, country: &Option<String>, accepted: &[String], config: &FlowConfig) {
    let Some(t) = document_type else { return };
    if NEVER_ACCEPTED.contains(&t.as_str()) || !accepted.iter().any(|a| a == t) {
        c.add(&format!("{path}.type"), format!("The selected {path}.type is invalid."));
    } else if let Some(country) = country {
        if config.is_forbidden(t, country) {
            c.add(&format!("{path}.country"), format!("The {path}.type {t} is not accepted from country {country}."));
        }
    }
}

/// Validates a create body against the flow and its configuration.
pub fn create(body: &Value, flow: Flow, config: &FlowConfig) -> Result<CreateInput, AppError> {
    let mut c = Checker::new();
    let Some(body) = body.as_object() else {
        return Err(AppError::invalid("body", "The request body must be a JSON object."));
    };
    let mut allowed = vec!["reference", "applicant", "photo_id", "proof_of_address", "metadata"];
    if flow == Flow::Usps1583 {
        allowed.push("mailbox");
    }
    c.unknown_fields(body, "", &allowed);

    let reference = c.text(body, "reference", "reference", false);
    let applicant = c.object(body, "applicant", "applicant", true).and_then(|a| c.applicant(a));

    let photo_id = c.object(body, "photo_id", "photo_id", true).and_then(|p| {
        c.unknown_fields(p, "photo_id", &["type", "country", "number"]);
        let t = c.text(p, "type", "photo_id.type", true);
        let country = c.country(p, "country", "photo_id.country");
        let number = c.text(p, "number", "photo_id.number", false);
        document_type_check(&mut c, "photo_id", &t, &country, &config.photo_id_types, config);
        Some(PhotoIdSpec { document_type: t?, country: country?, number })
    });

    let poa_required = flow == Flow::Usps1583;
    let proof_of_address = c.object(body, "proof_of_address", "proof_of_address", poa_required).and_then(|p| {
        c.unknown_fields(p, "proof_of_address", &["type", "country"]);
        let t = c.text(p, "type", "proof_of_address.type", true);
        let country = c.country(p, "country", "proof_of_address.country");
        document_type_check(&mut c, "proof_of_address", &t, &country, &config.proof_of_address_types, config);
        Some(ProofOfAddressSpec { document_type: t?, country: country? })
    });
    if let (Some(p), Some(a)) = (&photo_id, &proof_of_address) {
        if p.document_type == a.document_type {
            c.add("proof_of_address.type", "The proof_of_address.type and photo_id.type must be different.".into());
        }
    }

    let mailbox = if flow == Flow::Usps1583 { c.object(body, "mailbox", "mailbox", false).and_then(|m| c.mailbox(m)) } else { None };
    let metadata = c.metadata(body);

    let input = match (applicant, photo_id) {
        (Some(applicant), Some(photo_id)) if !poa_required || proof_of_address.is_some() => {
            Some(CreateInput { reference, applicant, photo_id, proof_of_address, mailbox, metadata })
        }
        _ => None,
    };
    c.finish(input)
}

/// Merges the fields of `patch` into the object `current` (one level deep for objects).
fn merged(current: Value, patch: &Map<String, Value>) -> Map<String, Value> {
    let mut target = match current {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if let (Some(Value::Object(existing)), Value::Object(new)) = (target.get_mut(key), value) {
            for (k, v) in new {
                existing.insert(k.clone(), v.clone());
            }
            continue;
        }
        target.insert(key.clone(), value.clone());
    }
    target
}

/// Validates the PATCH of an approved record: only `mailbox.closed_on`, a date on or
/// after the day the box opened. Returns the mailbox with it set.
pub fn closing(body: &Value, current: Option<&Mailbox>) -> Result<Mailbox, AppError> {
    let Some(body) = body.as_object() else {
        return Err(AppError::invalid("body", "The request body must be a JSON object."));
    };
    let mut c = Checker::new();
    for key in body.keys().filter(|k| *k != "mailbox") {
        c.add(key, ONLY_CLOSED_ON.into());
    }
    let Some(current) = current else {
        c.add("mailbox", "The verification has no mailbox to close.".into());
        return c.finish(None);
    };
    match body.get("mailbox") {
        Some(Value::Object(m)) => {
            for key in m.keys().filter(|k| *k != "closed_on") {
                c.add(&format!("mailbox.{key}"), ONLY_CLOSED_ON.into());
            }
            if !m.contains_key("closed_on") {
                c.add("mailbox.closed_on", "The mailbox.closed_on field is required.".into());
            }
        }
        _ => c.add("mailbox.closed_on", "The mailbox.closed_on field is required.".into()),
    }
    if !c.errors.is_empty() {
        return c.finish(None);
    }
    let patch = body.get("mailbox").and_then(Value::as_object).cloned().unwrap_or_default();
    let target = merged(serde_json::to_value(current).unwrap_or(Value::Null), &patch);
    let mailbox = c.mailbox(&target);
    c.finish(mailbox)
}

/// Validates a PATCH body: `applicant` (and, in usps1583, `mailbox`) fields merge into
/// the current ones, `reference` and `metadata` replace theirs.
pub fn update(body: &Value, current: &Applicant, mailbox: Option<&Mailbox>, flow: Flow) -> Result<UpdateInput, AppError> {
    let mut c = Checker::new();
    let Some(body) = body.as_object() else {
        return Err(AppError::invalid("body", "The request body must be a JSON object."));
    };
    let allowed: &[&str] = if flow == Flow::Usps1583 { &["reference", "applicant", "metadata", "mailbox"] } else { &["reference", "applicant", "metadata"] };
    c.unknown_fields(body, "", allowed);
    let new_mailbox = match c.object(body, "mailbox", "mailbox", false) {
        Some(patch) if flow == Flow::Usps1583 => {
            let base = mailbox.map(|m| serde_json::to_value(m).unwrap_or(Value::Null)).unwrap_or_else(|| Value::Object(Map::new()));
            let target = merged(base, patch);
            c.mailbox(&target)
        }
        _ => None,
    };
    let mut input = UpdateInput { mailbox: new_mailbox, ..UpdateInput::default() };
    if body.contains_key("reference") {
        input.reference = Some(c.text(body, "reference", "reference", false));
    }
    if let Some(patch) = c.object(body, "applicant", "applicant", false) {
        let target = merged(serde_json::to_value(current).unwrap_or(Value::Null), patch);
        input.applicant = c.applicant(&target);
    }
    if body.contains_key("metadata") {
        input.metadata = Some(c.metadata(body));
    }
    c.finish(Some(input))
}

/// Validates the workspace's CMRA profile: `{name, address}`.
pub fn cmra_profile(body: &Value) -> Result<crate::compliance::CmraProfile, AppError> {
    let mut c = Checker::new();
    let Some(body) = body.as_object() else {
        return Err(AppError::invalid("body", "The request body must be a JSON object."));
    };
    c.unknown_fields(body, "", &["name", "address"]);
    let name = c.text(body, "name", "name", true);
    let address = c.object(body, "address", "address", true).and_then(|a| c.address(a, "address"));
    let profile = match (name, address) {
        (Some(name), Some(address)) => Some(crate::compliance::CmraProfile { name, address }),
        _ => None,
    };
    c.finish(profile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid_body() -> Value {
        json!({
            "reference": "cust_42",
            "applicant": {
                "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1990-12-10",
                "address": { "line1": "12 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" }
            },
            "photo_id": { "type": "passport", "country": "GB" },
            "proof_of_address": { "type": "lease", "country": "US" }
        })
    }

    fn errors(result: Result<CreateInput, AppError>) -> FieldErrors {
        match result {
            Err(AppError::Validation(e)) => e,
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_body_is_accepted() {
        let config = FlowConfig::default_for(Flow::Usps1583);
        let input = create(&valid_body(), Flow::Usps1583, &config).unwrap();
        assert_eq!(input.applicant.first_name, "Ada");
        assert_eq!(input.proof_of_address.unwrap().document_type, "lease");
    }

    #[test]
    fn every_problem_is_reported_by_field_path() {
        let config = FlowConfig::default_for(Flow::Usps1583);
        let body = json!({
            "applicant": { "first_name": "", "last_name": 7, "date_of_birth": "1990-13-01",
                           "address": { "line1": "x", "city": "y", "state": "z", "postal_code": "1", "country": "usa" } },
            "photo_id": { "type": "credit_card", "country": "US" },
            "proof_of_address": { "type": "drivers_license", "country": "CA" }
        });
        let e = errors(create(&body, Flow::Usps1583, &config));
        assert_eq!(e["applicant.first_name"], vec!["The applicant.first_name field is required."]);
        assert_eq!(e["applicant.last_name"], vec!["The applicant.last_name must be a string."]);
        assert_eq!(e["applicant.date_of_birth"], vec!["The applicant.date_of_birth is not a valid date (YYYY-MM-DD)."]);
        assert!(e.contains_key("applicant.address.country"));
        assert_eq!(e["photo_id.type"], vec!["The selected photo_id.type is invalid."]);
        assert_eq!(e["proof_of_address.country"], vec!["The proof_of_address.type drivers_license is not accepted from country CA."]);
    }

    #[test]
    fn the_same_type_cannot_serve_both_roles() {
        let config = FlowConfig::default_for(Flow::Usps1583);
        let mut body = valid_body();
        body["photo_id"] = json!({ "type": "drivers_license", "country": "US" });
        body["proof_of_address"] = json!({ "type": "drivers_license", "country": "US" });
        let e = errors(create(&body, Flow::Usps1583, &config));
        assert_eq!(e["proof_of_address.type"], vec!["The proof_of_address.type and photo_id.type must be different."]);
    }

    #[test]
    fn identity_needs_no_proof_of_address_and_takes_no_mailbox() {
        let config = FlowConfig::default_for(Flow::Identity);
        let mut body = valid_body();
        body.as_object_mut().unwrap().remove("proof_of_address");
        assert!(create(&body, Flow::Identity, &config).is_ok());
        body["mailbox"] = json!({ "pmb": "101" });
        assert!(errors(create(&body, Flow::Identity, &config)).contains_key("mailbox"));
    }

    #[test]
    fn updates_merge_into_the_applicant() {
        let config = FlowConfig::default_for(Flow::Usps1583);
        let current = create(&valid_body(), Flow::Usps1583, &config).unwrap().applicant;
        let update = update(&json!({ "applicant": { "last_name": "King", "address": { "city": "Chicago" } } }), &current, None, Flow::Usps1583).unwrap();
        let applicant = update.applicant.unwrap();
        assert_eq!(applicant.last_name, "King");
        assert_eq!(applicant.address.city, "Chicago");
        assert_eq!(applicant.address.line1, "12 Main St");
    }

    #[test]
    fn a_mailbox_carries_the_1583_record_fields() {
        let config = FlowConfig::default_for(Flow::Usps1583);
        let mut body = valid_body();
        body["mailbox"] = json!({ "pmb": "101", "opened_on": "2026-01-05", "service_type": "business",
                                  "business": { "name": "Acme LLC", "type": "LLC", "registered_in": "Delaware" } });
        let mailbox = create(&body, Flow::Usps1583, &config).unwrap().mailbox.unwrap();
        assert_eq!(mailbox.service_type, Some(ServiceType::Business));
        assert_eq!(mailbox.business.unwrap().name, "Acme LLC");
        body["mailbox"] = json!({ "pmb": "101", "opened_on": "2026-02-30", "closed_on": "2025-01-01", "service_type": "home",
                                  "business": { "name": "Acme" } });
        let e = errors(create(&body, Flow::Usps1583, &config));
        assert_eq!(e["mailbox.opened_on"], vec!["The mailbox.opened_on is not a valid date (YYYY-MM-DD)."]);
        assert!(e.contains_key("mailbox.service_type"), "{e:?}");
        assert!(e.contains_key("mailbox.business"), "{e:?}");
    }

    #[test]
    fn an_approved_record_takes_only_a_closing_date() {
        let mailbox = Mailbox {
            pmb: "101".into(),
            cmra_address: None,
            opened_on: Some("2026-01-05".into()),
            closed_on: None,
            service_type: Some(ServiceType::Residential),
            protected_individual: None,
            business: None,
        };
        let closed = closing(&json!({ "mailbox": { "closed_on": "2026-11-30" } }), Some(&mailbox)).unwrap();
        assert_eq!((closed.closed_on.as_deref(), closed.pmb.as_str()), (Some("2026-11-30"), "101"));
        let refused = |body: Value| match closing(&body, Some(&mailbox)) {
            Err(AppError::Validation(e)) => e,
            other => panic!("expected a 422, got {other:?}"),
        };
        assert_eq!(refused(json!({ "mailbox": { "pmb": "102" } }))["mailbox.pmb"], vec![ONLY_CLOSED_ON]);
        assert_eq!(refused(json!({ "applicant": { "last_name": "King" }, "mailbox": { "closed_on": "2026-11-30" } }))["applicant"], vec![ONLY_CLOSED_ON]);
        assert!(refused(json!({ "mailbox": { "closed_on": "2025-12-31" } })).contains_key("mailbox.closed_on"));
    }
}
