//! The reviewer's pages: the review queue (`/w/:slug/verifications`) and a
//! verification's detail with its decision (`/w/:slug/verifications/:id`).

use super::{HistoryEntry, Verification};
use crate::{error::AppError, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRow {
    pub id: String,
    pub flow: String,
    pub status: String,
    pub name: String,
    pub email: Option<String>,
    pub reference: Option<String>,
    pub created_at: String,
    pub failed_rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueView {
    pub rows: Vec<QueueRow>,
    pub next_cursor: Option<String>,
    /// `(status, count)` for the whole workspace.
    pub counts: Vec<(String, i64)>,
    /// This server's address, for the empty queue's `curl` example.
    pub api_base: String,
    /// Whether the member may create verifications (`verifications.manage`).
    pub can_manage: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetailView {
    pub verification: Verification,
    pub history: Vec<HistoryEntry>,
    /// The webhook events about this verification and its documents.
    pub events: Vec<EventSummary>,
    pub can_decide: bool,
    pub can_manage: bool,
    pub can_view_documents: bool,
}

/// A webhook event and how its deliveries went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSummary {
    pub id: String,
    pub event_type: String,
    pub created_at: String,
    /// Endpoints it was queued for.
    pub deliveries: i64,
    /// Of those, delivered (2xx).
    pub delivered: i64,
}

/// The status counts stop at this (the service's cap), shown as "10000+".
pub const COUNT_CAP: i64 = 10_000;

/// Rule names a reviewer can filter the queue by (SPEC §5.3).
pub const RULES: [&str; 8] = [
    "name_mismatch",
    "country_mismatch",
    "document_type_mismatch",
    "document_number_mismatch",
    "date_of_birth_mismatch",
    "document_expired",
    "address_blacklisted",
    "selfie_mismatch",
];

/// Optional narrowing of the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFilters {
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
    /// `approved` or `rejected`.
    pub decision: Option<String>,
    /// A rule that failed.
    pub rule: Option<String>,
}

/// The queue: `status` defaults to `needs_review`; `all` lists every status.
#[server(prefix = "/rpc", endpoint = "review_queue")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.review_queue", skip_all))]
pub async fn review_queue(
    slug: String,
    status: Option<String>,
    flow: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    filters: Option<QueueFilters>,
) -> Result<QueueView, AppError> {
    crate::error::respond(
        async move {
            use super::service::{self, ListQuery};
            use crate::dates::{day, Bound};
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsView).await?;
            let status = match status.as_deref() {
                None | Some("") => Some(super::VerificationStatus::NeedsReview),
                Some("all") => None,
                Some(s) => Some(s.parse::<super::VerificationStatus>().map_err(|_| AppError::invalid("status", "The selected status is invalid."))?),
            };
            let filters = filters.unwrap_or_default();
            let nonblank = |v: Option<String>| v.filter(|v| !v.is_empty());
            let query = ListQuery {
                flow: nonblank(flow)
                    .map(|f| f.parse::<crate::flows::Flow>().map_err(|_| AppError::invalid("flow", "The selected flow is invalid.")))
                    .transpose()?,
                status,
                created_from: day("from", filters.from.as_deref(), Bound::Start)?,
                created_to: day("to", filters.to.as_deref(), Bound::End)?,
                search: nonblank(q),
                // Unknown choices in the filter bar narrow nothing, as before.
                decision: match filters.decision.as_deref() {
                    Some("approved") => Some(super::DecisionOutcome::Approved),
                    Some("rejected") => Some(super::DecisionOutcome::Rejected),
                    _ => None,
                },
                failed_rule: filters.rule.filter(|r| RULES.contains(&r.as_str())),
                cursor: nonblank(cursor),
                limit: 50,
                ..Default::default()
            };
            let page = service::queue(&state.db, &member.workspace_id, &query).await?;
            let rows = page
                .data
                .into_iter()
                .map(|v| QueueRow {
                    name: format!("{} {}", v.applicant.first_name, v.applicant.last_name),
                    email: v.applicant.email,
                    failed_rules: v.rules.into_iter().filter(|r| r.result == super::RuleOutcome::Fail).map(|r| r.name).collect(),
                    id: v.id,
                    flow: v.flow.code().to_string(),
                    status: v.status.code().to_string(),
                    reference: v.reference,
                    created_at: v.created_at,
                })
                .collect();
            let counts = service::status_counts(&state.db, &member.workspace_id).await?;
            Ok(QueueView {
                rows,
                next_cursor: page.next_cursor,
                counts,
                api_base: state.settings.public_url.clone(),
                can_manage: member.role.has(crate::access::Permission::VerificationsManage),
            })
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub(crate) async fn flow_of(state: &crate::state::AppState, workspace_id: &str, id: &str) -> Result<crate::flows::Flow, AppError> {
    let flow: String = sqlx::query_scalar("SELECT flow FROM verifications WHERE id = $1 AND workspace_id = $2")
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    flow.parse().map_err(|_| AppError::internal("stored flow", flow))
}

#[server(prefix = "/rpc", endpoint = "verification_detail")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.verification_detail", skip_all))]
pub async fn verification_detail(slug: String, id: String) -> Result<DetailView, AppError> {
    crate::error::respond(
        async move {
            use crate::access::Permission;
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, Permission::VerificationsView).await?;
            let flow = flow_of(&state, &member.workspace_id, &id).await?;
            let mut verification = super::service::get(&state.db, &member.workspace_id, flow, &id).await?;
            let can_view_documents = member.role.has(Permission::DocumentsView);
            if !can_view_documents {
                // Extracted data is PII: only documents.view sees it.
                for document in &mut verification.documents {
                    document.extracted = None;
                }
            }
            // Who decided, by e-mail rather than `user:usr_…` (one query for all).
            let deciders: Vec<String> =
                verification.decision.iter().chain(verification.documents.iter().filter_map(|d| d.decision.as_ref())).map(|d| d.by.clone()).collect();
            let emails = super::service::user_emails(&state.db, &deciders.iter().map(String::as_str).collect::<Vec<_>>()).await?;
            for decision in verification.decision.iter_mut().chain(verification.documents.iter_mut().filter_map(|d| d.decision.as_mut())) {
                if let Some(email) = emails.get(&decision.by) {
                    decision.by = email.clone();
                }
            }
            Ok(DetailView {
                history: super::service::history(&state.db, &member.workspace_id, flow, &id).await?.data,
                events: super::service::events_for(&state.db, &member.workspace_id, &id).await?,
                verification,
                can_decide: member.role.has(Permission::VerificationsDecide),
                can_manage: member.role.has(Permission::VerificationsManage),
                can_view_documents,
            })
        }
        .await,
    )
}

/// Approve or reject a verification in `needs_review`, with a reason.
#[server(prefix = "/rpc", endpoint = "decide_verification")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.decide_verification", skip_all))]
pub async fn decide_verification(slug: String, id: String, decision: String, reason: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsDecide).await?;
            let flow = flow_of(&state, &member.workspace_id, &id).await?;
            let input = super::requests::DecisionInput { decision: Some(decision), reason: Some(reason) };
            super::service::decide(&state.db, &member.workspace_id, flow, &id, &input, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

/// Retake: ask for a new document of one role from a verification in `needs_review`,
/// with a reason (the same service and permission as the API's `…/request-document`).
#[server(prefix = "/rpc", endpoint = "request_document")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.request_document", skip_all))]
pub async fn request_new_document(slug: String, id: String, role: String, reason: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsDecide).await?;
            let flow = flow_of(&state, &member.workspace_id, &id).await?;
            let input = super::requests::DocumentRequestInput { role: Some(role), reason: Some(reason) };
            super::service::request_document(&state.db, &member.workspace_id, flow, &id, &input, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

/// Approve or reject one document (after processing), with a reason.
#[server(prefix = "/rpc", endpoint = "decide_document")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.decide_document", skip_all))]
pub async fn decide_document(slug: String, id: String, document_id: String, decision: String, reason: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsDecide).await?;
            let flow = flow_of(&state, &member.workspace_id, &id).await?;
            let input = super::requests::DecisionInput { decision: Some(decision), reason: Some(reason) };
            crate::documents::service::decide(&state.db, &member.workspace_id, flow, &id, &document_id, &input, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "cancel_verification")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.cancel_verification", skip_all))]
pub async fn cancel_verification(slug: String, id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsManage).await?;
            let flow = flow_of(&state, &member.workspace_id, &id).await?;
            super::service::cancel(&state.db, &member.workspace_id, flow, &id, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

const STATUS_TABS: [(&str, &str); 8] = [
    ("needs_review", "Needs review"),
    ("resubmission_requested", "Resubmission requested"),
    ("submitted", "Submitted"),
    ("started", "Started"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("canceled", "Canceled"),
    ("all", "All"),
];

/// `/w/:slug/verifications?status=…&flow=…&q=…&cursor=…`
#[component]
pub fn QueuePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let filters = move || QueueFilters { from: Some(get("from")), to: Some(get("to")), decision: Some(get("decision")), rule: Some(get("rule")) };
    let data = Resource::new(
        move || (slug(), get("status"), get("flow"), get("q"), get("cursor"), filters()),
        |(slug, status, flow, q, cursor, filters)| review_queue(slug, Some(status), Some(flow), Some(q), Some(cursor), Some(filters)),
    );
    let current = move || {
        let s = get("status");
        if s.is_empty() {
            "needs_review".to_string()
        } else {
            s
        }
    };
    view! {
        <Title text="Review queue"/>
        <h1>"Review queue"</h1>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading verifications…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => {
                        // Counts are capped server-side (no full scans per page): show "10000+".
                        let count = |s: &str| {
                            let mut capped = false;
                            let n = v.counts.iter().filter(|(st, _)| st == s || s == "all").map(|(_, n)| { capped |= *n > COUNT_CAP; (*n).min(COUNT_CAP) }).sum::<i64>();
                            if capped { format!("{n}+") } else { n.to_string() }
                        };
                        let base = format!("/w/{}/verifications", slug());
                        view! {
                            {v.can_manage.then(|| view! { <super::create::NewVerification slug=slug()/> })}
                            <nav class="tabs" aria-label="Status">
                                {STATUS_TABS.into_iter().map(|(code, label)| {
                                    let selected = current() == code;
                                    view! { <a href=format!("{base}?status={code}") aria-current=if selected { Some("page") } else { None }>{label} " " <span class="count">{count(code)}</span></a> }
                                }).collect_view()}
                            </nav>
                            <form method="get" class="inline-form filters" role="search" aria-label="Search verifications">
                                <input type="hidden" name="status" value=current()/>
                                <span class="field">
                                    <label for="queue-q">"Search"</label>
                                    <input id="queue-q" type="text" name="q" value=get("q") placeholder="name, email, reference or id"/>
                                </span>
                                <span class="field">
                                    <label for="queue-flow">"Flow"</label>
                                    <select id="queue-flow" name="flow">
                                        <option value="">"any"</option>
                                        <option value="usps1583" selected=get("flow") == "usps1583">"usps1583"</option>
                                        <option value="identity" selected=get("flow") == "identity">"identity"</option>
                                    </select>
                                </span>
                                <span class="field">
                                    <label for="queue-from">"From"</label>
                                    <input id="queue-from" type="date" name="from" value=get("from")/>
                                </span>
                                <span class="field">
                                    <label for="queue-to">"To"</label>
                                    <input id="queue-to" type="date" name="to" value=get("to")/>
                                </span>
                                <span class="field">
                                    <label for="queue-decision">"Decision"</label>
                                    <select id="queue-decision" name="decision">
                                        <option value="">"any"</option>
                                        <option value="approved" selected=get("decision") == "approved">"approved"</option>
                                        <option value="rejected" selected=get("decision") == "rejected">"rejected"</option>
                                    </select>
                                </span>
                                <span class="field">
                                    <label for="queue-rule">"Failed rule"</label>
                                    <select id="queue-rule" name="rule">
                                        <option value="">"any"</option>
                                        {RULES.into_iter().map(|r| view! { <option value=r selected=get("rule") == r>{r}</option> }).collect_view()}
                                    </select>
                                </span>
                                <button type="submit">"Search"</button>
                            </form>
                            {if v.rows.is_empty() && ["q", "flow", "from", "to", "decision", "rule"].iter().all(|k| get(k).is_empty()) {
                                let tokens = format!("/w/{}/tokens", slug());
                                let example = format!(
                                    "curl -X POST {}/api/v1/usps1583/verifications \\\n  -H \"Authorization: Bearer $ATTEST_TOKEN\" -H 'Content-Type: application/json' \\\n  -d '{{\"applicant\": {{\"first_name\": \"Ada\", \"last_name\": \"sandbox-approve\", \"date_of_birth\": \"1990-12-10\", \"address\": {{\"line1\": \"12 Main St\", \"city\": \"Springfield\", \"state\": \"IL\", \"postal_code\": \"62701\", \"country\": \"US\"}}}}, \"photo_id\": {{\"type\": \"passport\", \"country\": \"US\"}}, \"proof_of_address\": {{\"type\": \"lease\", \"country\": \"US\"}}}}'",
                                    v.api_base
                                );
                                view! {
                                    <div class="empty onboarding" data-testid="queue-empty">
                                        <p><strong>"No verifications here yet."</strong></p>
                                        <p>"Create one through the API with a token from the " <a href=tokens>"API tokens"</a> " page (set it as " <code>"ATTEST_TOKEN"</code> "):"</p>
                                        <pre><code>{example}</code></pre>
                                        <p>"Then upload its documents and submit it: the " <a href="/api-reference">"API reference"</a> " shows every step. In sandbox, the last name " <code>"sandbox-approve"</code> " (and the others in the README) drives each outcome."</p>
                                    </div>
                                }.into_any()
                            } else if v.rows.is_empty() {
                                view! { <p class="empty">"No verifications match these filters."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="data" aria-label="Verifications">
                                        <thead><tr><th scope="col">"Applicant"</th><th scope="col">"Flow"</th><th scope="col">"Status"</th><th scope="col">"Failed rules"</th><th scope="col">"Reference"</th><th scope="col">"Created (UTC)"</th></tr></thead>
                                        <tbody>
                                            {v.rows.into_iter().map(|r| view! {
                                                <tr>
                                                    <td><a href=format!("{base}/{}", r.id)>{r.name.clone()}</a><div class="small muted">{r.email.clone().unwrap_or_default()}</div></td>
                                                    <td>{r.flow.clone()}</td>
                                                    <td><span class=format!("badge status-{}", r.status)>{r.status.replace('_', " ")}</span></td>
                                                    <td class="small">{r.failed_rules.join(", ")}</td>
                                                    <td class="small">{r.reference.clone().unwrap_or_default()}</td>
                                                    <td class="small">{crate::dates::to_minute(&r.created_at)}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                            {v.next_cursor.map(|c| view! {
                                <p><a class="button" href=format!("{base}?status={}&flow={}&q={}&from={}&to={}&decision={}&rule={}&cursor={c}", current(), get("flow"), get("q"), get("from"), get("to"), get("decision"), get("rule"))>"Next page"</a></p>
                            })}
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// One document side with zoom and rotate, for reviewers (`documents.view`). An island:
/// zoom and rotation happen in the browser.
#[island]
pub fn DocumentViewer(src: String, label: String) -> impl IntoView {
    // Zoom in percent, printed as a decimal by hand: formatting an f64 would pull the
    // float printer into the bundle for this one line.
    let zoom = RwSignal::new(100u32);
    let rotation = RwSignal::new(0u32);
    let transform = move || {
        let z = zoom.get();
        format!("transform: scale({}.{:02}) rotate({}deg)", z / 100, z % 100, rotation.get())
    };
    view! {
        <figure class="viewer">
            <div class="viewer-frame">
                // `?preview`: PDFs come back as their first page, rendered, so every
                // document can be looked at here; "Open" gives the original file.
                <img src=format!("{src}?preview") alt=label.clone() style=transform data-testid="document-image"/>
            </div>
            <figcaption>
                <span>{label.clone()}</span>
                <span class="viewer-tools" role="group" aria-label=format!("View {label}")>
                    <button type="button" on:click=move |_| zoom.update(|z| *z = (*z + 25).min(400))>"Zoom in"</button>
                    <button type="button" on:click=move |_| zoom.update(|z| *z = z.saturating_sub(25).max(50))>"Zoom out"</button>
                    <button type="button" on:click=move |_| rotation.update(|r| *r = (*r + 90) % 360)>"Rotate"</button>
                    <a href=src target="_blank" rel="noopener">"Open"</a>
                </span>
            </figcaption>
        </figure>
    }
}
