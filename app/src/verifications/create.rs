//! Creating a verification from the dashboard (`verifications.manage`): a plain form on
//! the review queue whose server function calls the same service as
//! `POST /{flow}/verifications`, then lands on the new verification's page. Refused input
//! comes back to the form with every field's error.

use crate::{error::AppError, forms};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The form's fields as posted (`verification[first_name]`, …): text as typed, blank
/// meaning not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewVerificationForm {
    pub flow: String,
    pub reference: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: String,
    pub email: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub photo_id_type: String,
    pub photo_id_country: String,
    pub photo_id_number: String,
    pub proof_of_address_type: String,
    pub proof_of_address_country: String,
}

impl NewVerificationForm {
    /// The API's request body for these fields; blank fields are left out, so the
    /// service names them as missing.
    pub fn body(&self) -> serde_json::Value {
        use serde_json::{Map, Value};
        fn put(map: &mut Map<String, Value>, key: &str, value: &str) {
            let value = value.trim();
            if !value.is_empty() {
                map.insert(key.to_string(), Value::String(value.to_string()));
            }
        }
        let mut address = Map::new();
        for (k, v) in [("line1", &self.line1), ("line2", &self.line2), ("city", &self.city), ("state", &self.state), ("postal_code", &self.postal_code)] {
            put(&mut address, k, v);
        }
        put(&mut address, "country", &self.country.trim().to_uppercase());
        let mut applicant = Map::new();
        for (k, v) in [("first_name", &self.first_name), ("last_name", &self.last_name), ("date_of_birth", &self.date_of_birth), ("email", &self.email)] {
            put(&mut applicant, k, v);
        }
        if !address.is_empty() {
            applicant.insert("address".into(), Value::Object(address));
        }
        let mut photo_id = Map::new();
        put(&mut photo_id, "type", &self.photo_id_type);
        put(&mut photo_id, "country", &self.photo_id_country.trim().to_uppercase());
        put(&mut photo_id, "number", &self.photo_id_number);
        let mut body = Map::new();
        put(&mut body, "reference", &self.reference);
        body.insert("applicant".into(), Value::Object(applicant));
        body.insert("photo_id".into(), Value::Object(photo_id));
        if !self.proof_of_address_type.trim().is_empty() {
            let mut poa = Map::new();
            put(&mut poa, "type", &self.proof_of_address_type);
            let country = if self.proof_of_address_country.trim().is_empty() { &self.country } else { &self.proof_of_address_country };
            put(&mut poa, "country", &country.trim().to_uppercase());
            body.insert("proof_of_address".into(), Value::Object(poa));
        }
        Value::Object(body)
    }
}

/// Creates a verification as `POST /{flow}/verifications` does and sends the browser to
/// its page; returns its id.
#[server(prefix = "/rpc", endpoint = "create_verification")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.create_verification", skip_all))]
pub async fn create_verification(slug: String, verification: NewVerificationForm) -> Result<String, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsManage).await?;
            let flow: crate::flows::Flow = verification.flow.parse().map_err(|_| AppError::invalid("flow", "The flow must be usps1583 or identity."))?;
            let created =
                super::service::create(&state.db, state.settings.environment, &member.workspace_id, flow, &verification.body(), &member.actor()).await?;
            leptos_axum::redirect(&format!("/w/{slug}/verifications/{}", created.id));
            Ok(created.id)
        }
        .await,
    )
}

/// The "New verification" panel of the queue, with the errors of the last attempt.
#[component]
pub fn NewVerification(slug: String) -> impl IntoView {
    let errors: Vec<(String, String)> = match forms::outcome::<CreateVerification>() {
        Some(Err(AppError::Validation(fields))) => {
            fields.into_iter().flat_map(|(field, messages)| messages.into_iter().map(move |m| (field.clone(), m))).collect()
        }
        Some(Err(other)) => vec![(String::new(), other.message())],
        _ => Vec::new(),
    };
    let open = !errors.is_empty();
    let text = |id: &'static str, name: &'static str, label: &'static str, kind: &'static str, required: bool| {
        view! {
            <label for=id>{label}</label>
            <input id=id type=kind name=format!("verification[{name}]") required=required/>
        }
    };
    view! {
        <details class="panel new-verification" open=open>
            <summary>"New verification"</summary>
            {(!errors.is_empty()).then(|| view! {
                <ul class="form-error" role="alert" aria-label="Errors">
                    {errors.into_iter().map(|(field, message)| view! { <li data-field=field>{message}</li> }).collect_view()}
                </ul>
            })}
            <form method="post" action={forms::action::<CreateVerification>()} class="stack">
                <input type="hidden" name="slug" value=slug/>
                <label for="new-flow">"Flow"</label>
                <select id="new-flow" name="verification[flow]">
                    <option value="usps1583">"usps1583 (PS Form 1583)"</option>
                    <option value="identity">"identity"</option>
                </select>
                {text("new-first-name", "first_name", "First name", "text", true)}
                {text("new-last-name", "last_name", "Last name", "text", true)}
                {text("new-dob", "date_of_birth", "Date of birth", "date", true)}
                {text("new-email", "email", "E-mail", "email", false)}
                {text("new-line1", "line1", "Address line 1", "text", true)}
                {text("new-line2", "line2", "Address line 2", "text", false)}
                {text("new-city", "city", "City", "text", true)}
                {text("new-state", "state", "State", "text", true)}
                {text("new-postal", "postal_code", "ZIP / postal code", "text", true)}
                {text("new-country", "country", "Country (e.g. US)", "text", true)}
                {text("new-reference", "reference", "Your reference", "text", false)}
                {text("new-photo-type", "photo_id_type", "Photo ID type (e.g. passport)", "text", true)}
                {text("new-photo-country", "photo_id_country", "Photo ID country (e.g. US)", "text", true)}
                {text("new-photo-number", "photo_id_number", "Photo ID number", "text", false)}
                {text("new-poa-type", "proof_of_address_type", "Proof of address type (usps1583, e.g. lease)", "text", false)}
                {text("new-poa-country", "proof_of_address_country", "Proof of address country (default: the address's)", "text", false)}
                <button type="submit" class="primary">"Create verification"</button>
            </form>
        </details>
    }
}
