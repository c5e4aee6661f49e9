//! The dashboard's compliance pages: the quarterly certification (`/w/:slug/compliance`),
//! the expiring photo IDs (`/w/:slug/compliance/expiring`), and the PS Form 1583 panel of
//! a usps1583 verification (downloads, re-verification).

use super::{BoxRow, ExpiringId, QuarterlyReport};
use crate::{error::AppError, forms, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The quarterly report of `quarter` (default: the last quarter that has ended).
#[server(prefix = "/rpc", endpoint = "load_quarterly_report")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.load_quarterly_report", skip_all))]
pub async fn load_quarterly_report(slug: String, quarter: Option<String>) -> Result<QuarterlyReport, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsView).await?;
            let today = chrono::Utc::now().date_naive();
            let quarter = match quarter.filter(|q| !q.trim().is_empty()) {
                Some(q) => super::quarterly::parse(Some(&q))?,
                None => last_ended_quarter(today),
            };
            super::quarterly::report(&state.db, &member.workspace_id, quarter, today).await
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
fn last_ended_quarter(today: chrono::NaiveDate) -> super::Quarter {
    let current = super::Quarter::of_day(&today.to_string()).unwrap_or(super::Quarter { year: 2026, number: 1 });
    if current.number == 1 {
        super::Quarter { year: current.year - 1, number: 4 }
    } else {
        super::Quarter { year: current.year, number: current.number - 1 }
    }
}

/// Certifies a quarter (`settings.manage`): recorded once, never changed.
#[server(prefix = "/rpc", endpoint = "certify_quarter")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.certify_quarter", skip_all))]
pub async fn certify_quarter(slug: String, quarter: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::SettingsManage).await?;
            let quarter = super::quarterly::parse(Some(&quarter))?;
            super::quarterly::certify(&state.db, &member.workspace_id, quarter, chrono::Utc::now().date_naive(), &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

/// Approved records of open boxes whose photo ID expires soon or has expired.
#[server(prefix = "/rpc", endpoint = "list_expiring_ids")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.list_expiring_ids", skip_all))]
pub async fn list_expiring_ids(slug: String, within: Option<String>, state: Option<String>, q: Option<String>) -> Result<Vec<ExpiringId>, AppError> {
    crate::error::respond(
        async move {
            let app = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&app, &slug, crate::access::Permission::VerificationsView).await?;
            let filter = super::expiry::ExpiringFilter {
                within_days: within.and_then(|w| w.parse().ok()).filter(|w: &i64| (0..=3650).contains(w)),
                state: state.filter(|s| matches!(s.as_str(), "expiring" | "expired")),
                search: q,
            };
            super::expiry::expiring(&app.db, &member.workspace_id, chrono::Utc::now().date_naive(), &filter).await
        }
        .await,
    )
}

/// Starts a re-verification of an approved record (`verifications.manage`).
#[server(prefix = "/rpc", endpoint = "start_reverification")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.start_reverification", skip_all))]
pub async fn start_reverification(slug: String, id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsManage).await?;
            super::reverify::start(&state.db, state.settings.environment, &member.workspace_id, crate::flows::Flow::Usps1583, &id, &member.actor())
                .await
                .map(|_| ())
        }
        .await,
    )
}

fn rows_table(label: String, rows: Vec<BoxRow>, slug: String) -> impl IntoView {
    view! {
        <table class="data" aria-label=label>
            <thead><tr><th scope="col">"PMB"</th><th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Opened"</th><th scope="col">"Closed"</th><th scope="col">"ID expires"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>
                        <td><a href=format!("/w/{slug}/verifications/{}", r.verification_id)>{r.pmb}</a></td>
                        <td>{r.name}</td>
                        <td>{r.status}</td>
                        <td>{r.opened_on.unwrap_or_default()}</td>
                        <td>{r.closed_on.unwrap_or_default()}</td>
                        <td>{r.id_expires_on.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// `/w/:slug/compliance?quarter=2026-Q4`
#[component]
pub fn CompliancePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let quarter = move || query.read().get("quarter").filter(|q| !q.is_empty());
    let report = Resource::new(move || (slug(), quarter()), |(slug, quarter)| load_quarterly_report(slug, quarter));
    view! {
        <Title text="Compliance"/>
        <h1>"Compliance"</h1>
        <p class="muted">"The quarterly certification of your PS Form 1583 records (due Jan 15, Apr 15, Jul 15 and Oct 15). "
            <a href=move || format!("/w/{}/compliance/expiring", slug())>"Expiring IDs"</a></p>
        <p class="form-error" role="alert">{forms::error::<CertifyQuarter>}</p>
        <form method="get" class="inline-form filters" aria-label="Choose a quarter">
            <label for="quarter">"Quarter"</label>
            <input id="quarter" type="text" name="quarter" value=quarter placeholder="2026-Q4" pattern="[0-9]{4}-Q[1-4]"/>
            <button type="submit">"Show"</button>
        </form>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading the report…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(r) => {
                        let slug = slug();
                        let downloads = format!("/w/{slug}/compliance/quarterly?quarter={}", r.quarter);
                        let state = match &r.certification {
                            Some(c) => format!("Certified on {} by {}.", crate::dates::to_minute(&c.at), c.by),
                            None if r.ready_to_certify => "Ready to certify: both blocking lists are empty.".to_string(),
                            None => "Not ready to certify: resolve the blocking lists below first.".to_string(),
                        };
                        let can_certify = r.ready_to_certify && r.certification.is_none();
                        let (slug_form, quarter_form) = (slug.clone(), r.quarter.clone());
                        view! {
                            <h2>{format!("{} ({} to {})", r.quarter, r.starts_on, r.ends_on)}</h2>
                            <p role="status" class=if r.ready_to_certify { "notice" } else { "form-error" }>{state}</p>
                            <p><a href=format!("{downloads}&format=csv")>"Download CSV"</a>" · "<a href=format!("{downloads}&format=pdf")>"Download PDF"</a></p>
                            {can_certify.then(|| view! {
                                <form method="post" action={forms::action::<CertifyQuarter>()} class="inline">
                                    <input type="hidden" name="slug" value=slug_form/>
                                    <input type="hidden" name="quarter" value=quarter_form/>
                                    <button type="submit">"Certify this quarter"</button>
                                </form>
                            })}
                            {r.lists().into_iter().map(|(_, title, rows)| {
                                let heading = format!("{title}: {}", rows.len());
                                view! {
                                    <section class="panel">
                                        <h3>{heading}</h3>
                                        {if rows.is_empty() { view! { <p class="empty">"None."</p> }.into_any() } else { rows_table(title.to_string(), rows.clone(), slug.clone()).into_any() }}
                                    </section>
                                }
                            }).collect_view()}
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// `/w/:slug/compliance/expiring?within=60&state=expiring|expired&q=…`
#[component]
pub fn ExpiringIdsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let list = Resource::new(
        move || (slug(), get("within"), get("state"), get("q")),
        |(slug, within, state, q)| list_expiring_ids(slug, Some(within), Some(state), Some(q)),
    );
    view! {
        <Title text="Expiring IDs"/>
        <h1>"Expiring IDs"</h1>
        <p class="muted">"Photo IDs (PS Form 1583 box 8d) of open mailboxes that expire soon or have expired. An expired ID is not acceptable: re-verify the customer."</p>
        <p class="form-error" role="alert">{forms::error::<StartReverification>}</p>
        <form method="get" class="inline-form filters" role="search" aria-label="Filter expiring IDs">
            <label for="within">"Within (days)"</label>
            <select id="within" name="within">
                {["60", "30", "7"].into_iter().map(|d| view! { <option value=d selected=get("within") == d>{d}</option> }).collect_view()}
            </select>
            <label for="state">"Show"</label>
            <select id="state" name="state">
                <option value="" selected=get("state").is_empty()>"Expiring and expired"</option>
                <option value="expiring" selected=get("state") == "expiring">"Expiring only"</option>
                <option value="expired" selected=get("state") == "expired">"Expired only"</option>
            </select>
            <label for="q">"PMB or name"</label>
            <input id="q" type="text" name="q" value=get("q")/>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let slug = slug();
                match list.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No photo ID expires within these filters."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="data" aria-label="Expiring IDs">
                            <thead><tr><th scope="col">"PMB"</th><th scope="col">"Name"</th><th scope="col">"Expires"</th><th scope="col">"Days left"</th><th scope="col">"Re-verification"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|e| {
                                    let href = format!("/w/{slug}/verifications/{}", e.verification_id);
                                    let (slug_form, id_form) = (slug.clone(), e.verification_id.clone());
                                    let follow_up = e.reverification_id.clone().map(|f| (format!("/w/{slug}/verifications/{f}"), f));
                                    view! {
                                        <tr>
                                            <td><a href=href>{e.pmb}</a></td>
                                            <td>{e.name}</td>
                                            <td>{e.expires_on}</td>
                                            <td>{if e.days_left < 0 { "expired".to_string() } else { e.days_left.to_string() }}</td>
                                            <td>{match follow_up {
                                                Some((href, id)) => view! { <a href=href>{id}</a> }.into_any(),
                                                None => view! {
                                                    <form method="post" action={forms::action::<StartReverification>()} class="inline">
                                                        <input type="hidden" name="slug" value=slug_form/>
                                                        <input type="hidden" name="id" value=id_form/>
                                                        <button type="submit">"Re-verify"</button>
                                                    </form>
                                                }.into_any(),
                                            }}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The PS Form 1583 panel of an approved usps1583 verification: downloads and re-verification.
#[component]
pub fn RecordPanel(slug: String, id: String, can_view_documents: bool, can_manage: bool) -> impl IntoView {
    let base = format!("/w/{slug}/verifications/{id}");
    view! {
        <section class="panel" aria-labelledby="record-heading">
            <h2 id="record-heading">"PS Form 1583 record"</h2>
            <p class="form-error" role="alert">{forms::error::<StartReverification>}</p>
            {if can_view_documents {
                view! {
                    <p>
                        <a href=format!("{base}/form-1583") download="">"Download form (JSON)"</a>" · "
                        <a href=format!("{base}/form-1583?format=pdf") download="">"Download form (PDF)"</a>" · "
                        <a href=format!("{base}/evidence") download="">"Download evidence pack"</a>
                    </p>
                }.into_any()
            } else {
                view! { <p class="muted">"The form and the evidence pack hold document data: members with documents.view may download them."</p> }.into_any()
            }}
            {can_manage.then(|| view! {
                <form method="post" action={forms::action::<StartReverification>()} class="inline">
                    <input type="hidden" name="slug" value=slug.clone()/>
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit">"Re-verify (new photo ID)"</button>
                </form>
            })}
        </section>
    }
}

/// The workspace's CMRA name and address (box 2), for the settings page.
#[server(prefix = "/rpc", endpoint = "get_cmra_settings")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.get_cmra_settings", skip_all))]
pub async fn get_cmra_settings(slug: String) -> Result<Option<super::CmraProfile>, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::SettingsManage).await?;
            super::service::cmra_profile(&state.db, &member.workspace_id).await
        }
        .await,
    )
}

/// The CMRA form as posted: text as typed (the service validates it like an address).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CmraForm {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

#[server(prefix = "/rpc", endpoint = "save_cmra_settings")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.save_cmra_settings", skip_all))]
pub async fn save_cmra_settings(slug: String, cmra: CmraForm) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::SettingsManage).await?;
            let mut address = serde_json::json!({ "line1": cmra.line1, "city": cmra.city, "state": cmra.state, "postal_code": cmra.postal_code, "country": cmra.country.trim().to_uppercase() });
            if !cmra.line2.trim().is_empty() {
                address["line2"] = serde_json::json!(cmra.line2);
            }
            let body = serde_json::json!({ "name": cmra.name, "address": address });
            super::service::save_cmra_profile(&state.db, &member.workspace_id, &body, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

/// The settings page's CMRA panel: name and address printed in box 2 of every record.
#[component]
pub fn CmraPanel(slug: String) -> impl IntoView {
    let profile = Resource::new(
        {
            let slug = slug.clone();
            move || slug.clone()
        },
        get_cmra_settings,
    );
    let outcome = forms::outcome::<SaveCmraSettings>().map(|r| match r {
        Ok(()) => view! { <p class="saved" role="status">"Saved."</p> }.into_any(),
        Err(e) => view! { <p class="form-error" role="alert">{e.message()}</p> }.into_any(),
    });
    view! {
        <section class="panel" aria-labelledby="cmra-heading">
            <h2 id="cmra-heading">"CMRA (PS Form 1583, box 2)"</h2>
            {outcome}
            <Transition fallback=|| ()>
                {move || {
                    let slug = slug.clone();
                    Suspend::new(async move {
                        let p = profile.await.ok().flatten();
                        let field = |f: fn(&super::CmraProfile) -> String| p.as_ref().map(f).unwrap_or_default();
                        view! {
                            <form method="post" action={forms::action::<SaveCmraSettings>()} class="stack">
                                <input type="hidden" name="slug" value=slug/>
                                <label for="cmra-name">"CMRA name"</label>
                                <input id="cmra-name" type="text" name="cmra[name]" value=field(|p| p.name.clone())/>
                                <label for="cmra-line1">"Street address"</label>
                                <input id="cmra-line1" type="text" name="cmra[line1]" value=field(|p| p.address.line1.clone())/>
                                <label for="cmra-line2">"Address line 2"</label>
                                <input id="cmra-line2" type="text" name="cmra[line2]" value=field(|p| p.address.line2.clone().unwrap_or_default())/>
                                <label for="cmra-city">"City"</label>
                                <input id="cmra-city" type="text" name="cmra[city]" value=field(|p| p.address.city.clone())/>
                                <label for="cmra-state">"State"</label>
                                <input id="cmra-state" type="text" name="cmra[state]" value=field(|p| p.address.state.clone())/>
                                <label for="cmra-zip">"ZIP code"</label>
                                <input id="cmra-zip" type="text" name="cmra[postal_code]" value=field(|p| p.address.postal_code.clone())/>
                                <label for="cmra-country">"Country (ISO code)"</label>
                                <input id="cmra-country" type="text" name="cmra[country]" value=field(|p| p.address.country.clone())/>
                                <button type="submit" class="primary">"Save CMRA"</button>
                            </form>
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

/// The workspace's retention period, for the settings page.
#[server(prefix = "/rpc", endpoint = "get_retention_settings")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.get_retention_settings", skip_all))]
pub async fn get_retention_settings(slug: String) -> Result<super::RetentionPolicy, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::SettingsManage).await?;
            super::retention::policy(&state.db, &member.workspace_id).await
        }
        .await,
    )
}

/// Sets the retention period (`settings.manage`).
#[server(prefix = "/rpc", endpoint = "save_retention_settings")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.save_retention_settings", skip_all))]
pub async fn save_retention_settings(slug: String, retention_days: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::SettingsManage).await?;
            let body = serde_json::json!({ "retention_days": retention_days });
            super::retention::save_policy(&state.db, &member.workspace_id, &body, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

/// Places (`hold` = `true`) or releases a legal hold (`verifications.manage`).
#[server(prefix = "/rpc", endpoint = "set_legal_hold")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.set_legal_hold", skip_all))]
pub async fn set_legal_hold(slug: String, id: String, hold: String, reason: Option<String>) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsManage).await?;
            let flow = super::retention::flow_of(&state.db, &member.workspace_id, &id).await?;
            let body = serde_json::json!({ "hold": hold == "true", "reason": reason });
            super::retention::set_legal_hold(&state.db, &member.workspace_id, flow, &id, &body, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

/// Redacts a verification now, with a reason (`verifications.manage`).
#[server(prefix = "/rpc", endpoint = "redact_verification")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.redact_verification", skip_all))]
pub async fn redact_verification(slug: String, id: String, reason: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsManage).await?;
            let flow = super::retention::flow_of(&state.db, &member.workspace_id, &id).await?;
            let body = serde_json::json!({ "reason": reason });
            super::retention::redact(&state.db, &state.files, &member.workspace_id, flow, &id, &body, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

/// The settings page's retention panel.
#[component]
pub fn RetentionSettingsPanel(slug: String) -> impl IntoView {
    let policy = Resource::new(
        {
            let slug = slug.clone();
            move || slug.clone()
        },
        get_retention_settings,
    );
    let outcome = forms::outcome::<SaveRetentionSettings>().map(|r| match r {
        Ok(()) => view! { <p class="saved" role="status">"Saved."</p> }.into_any(),
        Err(e) => view! { <p class="form-error" role="alert">{e.message()}</p> }.into_any(),
    });
    view! {
        <section class="panel" aria-labelledby="retention-heading">
            <h2 id="retention-heading">"Retention"</h2>
            <p class="muted">"Documents and the personal data read from them are kept this many days after the box closes, or after a rejection or a cancellation, then redacted for good (unless under legal hold). The legal period is yours to decide; the default is 365 days."</p>
            {outcome}
            <Transition fallback=|| ()>
                {move || {
                    let slug = slug.clone();
                    Suspend::new(async move {
                        let days = policy.await.map(|p| p.retention_days.to_string()).unwrap_or_default();
                        view! {
                            <form method="post" action={forms::action::<SaveRetentionSettings>()} class="inline-form">
                                <input type="hidden" name="slug" value=slug/>
                                <label for="retention-days">"Retention (days)"</label>
                                <input id="retention-days" type="number" name="retention_days" min="1" max="36500" required value=days/>
                                <button type="submit" class="primary">"Save retention"</button>
                            </form>
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

/// A verification's retention panel: when it was redacted, or its legal hold and the
/// redaction button (`verifications.manage`).
#[component]
pub fn RedactionPanel(slug: String, verification: crate::verifications::Verification, can_manage: bool) -> impl IntoView {
    use crate::verifications::VerificationStatus;
    let v = verification;
    let finished = matches!(v.status, VerificationStatus::Approved | VerificationStatus::Rejected | VerificationStatus::Canceled);
    let error = || forms::error::<SetLegalHold>().or_else(forms::error::<RedactVerification>);
    let body = match v.redacted_at.clone() {
        Some(at) => view! {
            <p><strong>{format!("Redacted on {}", crate::dates::to_minute(&at))}</strong>": its documents were destroyed and its personal data replaced."</p>
        }
        .into_any(),
        None => {
            let (slug_hold, id_hold) = (slug.clone(), v.id.clone());
            view! {
                <p>{if v.legal_hold { "Under legal hold: retention will not redact it." } else { "No legal hold." }}</p>
                {can_manage.then(|| view! {
                    <form method="post" action={forms::action::<SetLegalHold>()} class="inline-form">
                        <input type="hidden" name="slug" value=slug_hold/>
                        <input type="hidden" name="id" value=id_hold/>
                        <input type="hidden" name="hold" value=if v.legal_hold { "false" } else { "true" }/>
                        <label for="hold-reason">"Reason for the hold"</label>
                        <input id="hold-reason" type="text" name="reason" maxlength="500"/>
                        <button type="submit">{if v.legal_hold { "Release legal hold" } else { "Place legal hold" }}</button>
                    </form>
                })}
                {(can_manage && finished && !v.legal_hold).then(|| view! {
                    <form method="post" action={forms::action::<RedactVerification>()} class="stack">
                        <input type="hidden" name="slug" value=slug.clone()/>
                        <input type="hidden" name="id" value=v.id.clone()/>
                        <label for="redact-reason">"Reason for redacting"</label>
                        <input id="redact-reason" type="text" name="reason" required maxlength="500"/>
                        <button type="submit" class="danger">"Redact now (irreversible)"</button>
                    </form>
                })}
            }
            .into_any()
        }
    };
    view! {
        <section class="panel" aria-labelledby="retention-panel-heading">
            <h2 id="retention-panel-heading">"Retention"</h2>
            <p class="form-error" role="alert">{error()}</p>
            {body}
        </section>
    }
}
