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
                view! { <p class="muted">"The form and the evidence pack hold document data: they need the documents.view permission."</p> }.into_any()
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
