//! Validation of verification bodies into typed input, collecting every field error
//! (a 422's `errors` object keyed by field path) instead of stopping at the first.

use super::{Address, Applicant, Mailbox, PhotoIdSpec, ProofOfAddressSpec};
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
}

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

    let mailbox = if flow == Flow::Usps1583 {
        c.object(body, "mailbox", "mailbox", false).and_then(|m| {
            c.unknown_fields(m, "mailbox", &["pmb", "cmra_address"]);
            let pmb = c.text(m, "pmb", "mailbox.pmb", true);
            let cmra_address = c.object(m, "cmra_address", "mailbox.cmra_address", false).and_then(|a| c.address(a, "mailbox.cmra_address"));
            Some(Mailbox { pmb: pmb?, cmra_address })
        })
    } else {
        None
    };
    let metadata = c.metadata(body);

    let input = match (applicant, photo_id) {
        (Some(applicant), Some(photo_id)) if !poa_required || proof_of_address.is_some() => {
            Some(CreateInput { reference, applicant, photo_id, proof_of_address, mailbox, metadata })
        }
        _ => None,
    };
    c.finish(input)
}

/// Validates a PATCH body: `applicant` fields merge into `current`, `reference` and
/// `metadata` replace theirs.
pub fn update(body: &Value, current: &Applicant) -> Result<UpdateInput, AppError> {
    let mut c = Checker::new();
    let Some(body) = body.as_object() else {
        return Err(AppError::invalid("body", "The request body must be a JSON object."));
    };
    c.unknown_fields(body, "", &["reference", "applicant", "metadata"]);
    let mut input = UpdateInput::default();
    if body.contains_key("reference") {
        input.reference = Some(c.text(body, "reference", "reference", false));
    }
    if let Some(patch) = c.object(body, "applicant", "applicant", false) {
        let mut merged = serde_json::to_value(current).unwrap_or(Value::Null);
        if let Some(target) = merged.as_object_mut() {
            for (key, value) in patch {
                if key == "address" {
                    if let (Some(Value::Object(addr)), Value::Object(new)) = (target.get_mut("address"), value) {
                        for (k, v) in new {
                            addr.insert(k.clone(), v.clone());
                        }
                        continue;
                    }
                }
                target.insert(key.clone(), value.clone());
            }
            input.applicant = c.applicant(target);
        }
    }
    if body.contains_key("metadata") {
        input.metadata = Some(c.metadata(body));
    }
    c.finish(Some(input))
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
        let update = update(&json!({ "applicant": { "last_name": "King", "address": { "city": "Chicago" } } }), &current).unwrap();
        let applicant = update.applicant.unwrap();
        assert_eq!(applicant.last_name, "King");
        assert_eq!(applicant.address.city, "Chicago");
        assert_eq!(applicant.address.line1, "12 Main St");
    }
}
