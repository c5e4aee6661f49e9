//! The settings page (`settings.manage`): each flow's accepted document types,
//! required documents, selfie threshold and decision policy, and the address blacklist.

use crate::flows::{CountryRestriction, DocumentRole, FlowConfig, OnFail, OnPass};
use crate::{error::AppError, forms, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub flows: Vec<FlowConfig>,
    pub blacklist: Vec<String>,
}

#[server(prefix = "/rpc", endpoint = "get_settings")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.get_settings", skip_all))]
pub async fn get_settings(slug: String) -> Result<Settings, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::SettingsManage).await?;
            let mut flows = Vec::new();
            for flow in crate::flows::Flow::ALL {
                flows.push(crate::flows::service::load(&state.db, &member.workspace_id, flow).await?);
            }
            Ok(Settings { flows, blacklist: crate::flows::service::blacklist(&state.db, &member.workspace_id).await? })
        }
        .await,
    )
}

/// A comma- or line-separated list of type codes, lower-cased (the service checks them).
pub fn parse_types(text: &str) -> Vec<String> {
    let mut types: Vec<String> = text.split([',', '\n']).map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
    types.dedup();
    types
}

/// Country restrictions as typed, one a line: `drivers_license: US` or
/// `state_id: US, CA` (the type is accepted only from those countries).
pub fn parse_restrictions(text: &str) -> Result<Vec<CountryRestriction>, AppError> {
    let mut restrictions: Vec<CountryRestriction> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((document_type, countries)) = line.split_once(':') else {
            return Err(AppError::invalid("country_restrictions", format!("\"{line}\" must read type: countries (e.g. drivers_license: US).")));
        };
        let document_type = document_type.trim().to_lowercase();
        let allowed_countries: Vec<String> = countries.split([',', ' ']).map(|c| c.trim().to_uppercase()).filter(|c| !c.is_empty()).collect();
        match restrictions.iter_mut().find(|r| r.document_type == document_type) {
            Some(existing) => existing.allowed_countries.extend(allowed_countries),
            None => restrictions.push(CountryRestriction { document_type, allowed_countries }),
        }
    }
    for r in &mut restrictions {
        r.allowed_countries.sort();
        r.allowed_countries.dedup();
    }
    Ok(restrictions)
}

/// A flow's settings as the form posts them (`settings[photo_id_types]`, …): text as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowSettingsForm {
    pub photo_id_types: String,
    pub proof_of_address_types: String,
    /// A checkbox: present when ticked.
    pub require_proof_of_address: Option<String>,
    pub require_selfie: Option<String>,
    pub selfie_threshold: String,
    pub on_pass: String,
    pub on_fail: String,
    /// One restriction a line ([`parse_restrictions`]); absent: unchanged.
    pub country_restrictions: Option<String>,
    /// Present when the form showed the rule switches: then `enabled_rules` (ticked
    /// boxes) is the whole set of rules that run, and the others are switched off.
    pub rules_shown: Option<String>,
    pub enabled_rules: Option<Vec<String>>,
}

#[server(prefix = "/rpc", endpoint = "save_flow_settings")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.save_flow_settings", skip_all))]
pub async fn save_flow_settings(slug: String, flow: String, settings: FlowSettingsForm) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::SettingsManage).await?;
            let flow: crate::flows::Flow = flow.parse().map_err(|_| AppError::NotFound)?;
            let mut config = crate::flows::service::load(&state.db, &member.workspace_id, flow).await?;
            let FlowSettingsForm {
                photo_id_types,
                proof_of_address_types,
                require_proof_of_address,
                require_selfie,
                selfie_threshold,
                on_pass,
                on_fail,
                country_restrictions,
                rules_shown,
                enabled_rules,
            } = settings;
            if let Some(text) = country_restrictions {
                config.country_restrictions = parse_restrictions(&text)?;
            }
            if rules_shown.is_some() {
                let enabled = enabled_rules.unwrap_or_default();
                config.disabled_rules = crate::verifications::page::RULES.iter().filter(|r| !enabled.iter().any(|e| e == *r)).map(|r| r.to_string()).collect();
            }
            config.photo_id_types = parse_types(&photo_id_types);
            config.proof_of_address_types = parse_types(&proof_of_address_types);
            config.required_roles =
                [Some(DocumentRole::PhotoId), require_proof_of_address.map(|_| DocumentRole::ProofOfAddress), require_selfie.map(|_| DocumentRole::Selfie)]
                    .into_iter()
                    .flatten()
                    .collect();
            config.selfie_threshold = selfie_threshold
                .trim()
                .parse::<f64>()
                .map_err(|_| AppError::invalid("selfie_threshold", "The selfie threshold must be a number between 0 and 1."))?;
            config.on_pass = if on_pass == "manual_review" { OnPass::ManualReview } else { OnPass::AutoApprove };
            config.on_fail = if on_fail == "auto_reject" { OnFail::AutoReject } else { OnFail::ManualReview };
            crate::flows::service::save(&state.db, &member.workspace_id, &config, &member.actor()).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "save_blacklist")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.save_blacklist", skip_all))]
pub async fn save_blacklist(slug: String, addresses: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::SettingsManage).await?;
            let lines: Vec<String> = addresses.lines().map(str::to_string).collect();
            crate::flows::service::save_blacklist(&state.db, &member.workspace_id, &lines, &member.actor()).await
        }
        .await,
    )
}

/// `/w/:slug/settings`
#[component]
pub fn SettingsPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let settings = Resource::new(slug, get_settings);
    let outcome = |value: Option<Result<(), AppError>>| match value {
        Some(Ok(())) => Some(("saved", "status", "Saved.".to_string())),
        Some(Err(e)) => Some(("form-error", "alert", e.message())),
        None => None,
    };

    view! {
        <Title text="Settings"/>
        <h1>"Settings"</h1>
        {outcome(forms::outcome::<SaveFlowSettings>()).or_else(|| outcome(forms::outcome::<SaveBlacklist>())).map(|(class, role, text)| view! { <p class=class role=role>{text}</p> })}
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading settings…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) => view! {
                        {s.flows.into_iter().map(|config| {
                            let flow = config.flow.code();
                            let id = move |field: &str| format!("{flow}-{field}");
                            view! {
                                <section class="panel" aria-labelledby=id("heading")>
                                    <h2 id=id("heading")>{format!("Flow: {flow}")}</h2>
                                    <form method="post" action={forms::action::<SaveFlowSettings>()} class="stack">
                                        <input type="hidden" name="slug" value=slug/>
                                        <input type="hidden" name="flow" value=flow/>
                                        <label for=id("photo")>"Accepted photo ID types (comma-separated)"</label>
                                        <textarea id=id("photo") name="settings[photo_id_types]" rows="2" aria-describedby=id("manual")>{config.photo_id_types.join(", ")}</textarea>
                                        <p id=id("manual") class="small">{manual_review_note(&config)}</p>
                                        <label for=id("poa")>"Accepted proof-of-address types"</label>
                                        <textarea id=id("poa") name="settings[proof_of_address_types]" rows="2">{config.proof_of_address_types.join(", ")}</textarea>
                                        <fieldset>
                                            <legend>"Required documents"</legend>
                                            <label><input type="checkbox" checked disabled/>" Photo ID"</label>
                                            <label><input type="checkbox" name="settings[require_proof_of_address]" checked=config.required_roles.contains(&DocumentRole::ProofOfAddress)/>" Proof of address"</label>
                                            <label><input type="checkbox" name="settings[require_selfie]" checked=config.required_roles.contains(&DocumentRole::Selfie)/>" Selfie"</label>
                                        </fieldset>
                                        <label for=id("threshold")>"Selfie match threshold (0–1)"</label>
                                        <input id=id("threshold") type="text" inputmode="decimal" name="settings[selfie_threshold]" value=config.selfie_threshold.to_string()/>
                                        <label for=id("pass")>"When every rule passes"</label>
                                        <select id=id("pass") name="settings[on_pass]">
                                            <option value="auto_approve" selected=config.on_pass == OnPass::AutoApprove>"Approve automatically"</option>
                                            <option value="manual_review" selected=config.on_pass == OnPass::ManualReview>"Send to review"</option>
                                        </select>
                                        <label for=id("fail")>"When a rule fails"</label>
                                        <select id=id("fail") name="settings[on_fail]">
                                            <option value="manual_review" selected=config.on_fail == OnFail::ManualReview>"Send to review"</option>
                                            <option value="auto_reject" selected=config.on_fail == OnFail::AutoReject>"Reject automatically"</option>
                                        </select>
                                        <label for=id("restrictions")>"Country restrictions: each type accepted only from the countries listed, one a line (drivers_license: US)"</label>
                                        <textarea id=id("restrictions") name="settings[country_restrictions]" rows="4">{config.country_restrictions.iter().map(|r| format!("{}: {}", r.document_type, r.allowed_countries.join(", "))).collect::<Vec<_>>().join("\n")}</textarea>
                                        <fieldset>
                                            <legend>"Rules that run (unticked: switched off, never fail a verification)"</legend>
                                            <input type="hidden" name="settings[rules_shown]" value="1"/>
                                            {crate::verifications::page::RULES.into_iter().enumerate().map(|(i, rule)| view! {
                                                <label><input type="checkbox" name=format!("settings[enabled_rules][{i}]") value=rule checked=!config.disabled_rules.iter().any(|d| d == rule)/>" " {rule}</label>
                                            }).collect_view()}
                                        </fieldset>
                                        <button type="submit" class="primary">{format!("Save {flow}")}</button>
                                    </form>
                                </section>
                            }
                        }).collect_view()}
                        <crate::compliance::page::CmraPanel slug=slug()/>
                        <crate::compliance::page::RetentionSettingsPanel slug=slug()/>
                        <section class="panel" aria-labelledby="blacklist-heading">
                            <h2 id="blacklist-heading">"Address blacklist"</h2>
                            <p class="muted">"One address per line (e.g. other CMRAs). Applicants and proofs of address at these addresses fail the address_blacklisted rule; PO boxes, private mailboxes (PMB 45, #45) and this workspace's own CMRA address fail it without being listed."</p>
                            <form method="post" action={forms::action::<SaveBlacklist>()} class="stack">
                                <input type="hidden" name="slug" value=slug/>
                                <label for="blacklist">"Blacklisted addresses"</label>
                                <textarea id="blacklist" name="addresses" rows="6">{s.blacklist.join("\n")}</textarea>
                                <button type="submit" class="primary">"Save blacklist"</button>
                            </form>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Which accepted photo ID types no machine reads (a reviewer checks them).
fn manual_review_note(config: &crate::flows::FlowConfig) -> String {
    let manual: Vec<String> = config.type_infos().into_iter().filter(|t| !t.machine_readable).map(|t| t.document_type).collect();
    if manual.is_empty() {
        "Every accepted type is read by a machine.".to_string()
    } else {
        format!("Manual review (no machine reader, a reviewer checks them): {}.", manual.join(", "))
    }
}
