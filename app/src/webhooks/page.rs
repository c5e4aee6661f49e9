//! The webhooks page: endpoints (`webhooks.view` to see, `webhooks.manage` to change),
//! the secret shown once, rotation, test events, and the delivery log with resend.

use super::{Delivery, WebhookEndpoint, EVENT_TYPES};
use crate::{error::AppError, forms, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksOverview {
    pub endpoints: Vec<WebhookEndpoint>,
    pub deliveries: Vec<Delivery>,
    pub can_manage: bool,
}

#[cfg(feature = "ssr")]
async fn member(slug: &str, permission: crate::access::Permission) -> Result<(crate::state::AppState, crate::access::member::Member), AppError> {
    let state = crate::state::AppState::from_context()?;
    let member = crate::access::member::require(&state, slug, permission).await?;
    Ok((state, member))
}

#[server(prefix = "/rpc", endpoint = "webhooks_view")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.webhooks_view", skip_all))]
pub async fn webhooks_view(slug: String, endpoint: Option<String>, event: Option<String>, status: Option<String>) -> Result<WebhooksOverview, AppError> {
    crate::error::respond(
        async move {
            let (state, member) = member(&slug, crate::access::Permission::WebhooksView).await?;
            let filter = super::service::DeliveryFilter {
                endpoint_id: endpoint.filter(|e| !e.is_empty()),
                event_type: event.filter(|e| !e.is_empty()),
                status: status.filter(|e| !e.is_empty()),
                limit: 50,
            };
            let mut deliveries = super::service::deliveries(&state.db, &member.workspace_id, &filter).await?;
            if !member.role.has(crate::access::Permission::DocumentsView) {
                deliveries.iter_mut().for_each(Delivery::hide_payload);
            }
            Ok(WebhooksOverview {
                endpoints: super::service::list(&state.db, &member.workspace_id).await?,
                deliveries,
                can_manage: member.role.has(crate::access::Permission::WebhooksManage),
            })
        }
        .await,
    )
}

/// Creates an endpoint; returns its secret, the only time it is shown.
#[server(prefix = "/rpc", endpoint = "create_webhook")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.create_webhook", skip_all))]
pub async fn create_webhook(slug: String, url: String, description: String, events: Option<Vec<String>>) -> Result<String, AppError> {
    crate::error::respond(
        async move {
            let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
            let input = super::service::EndpointInput { url: Some(url), description: Some(description), event_types: events, active: Some(true) };
            let created =
                super::service::create(&state.db, &state.files.master, state.settings.environment, &member.workspace_id, input, &member.actor()).await?;
            Ok(created.secret)
        }
        .await,
    )
}

/// Changes an endpoint's URL, events and description, as `PATCH /webhooks/{id}` does
/// (same validation; no events checked means every event).
#[server(prefix = "/rpc", endpoint = "update_webhook")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.update_webhook", skip_all))]
pub async fn update_webhook(slug: String, endpoint_id: String, url: String, description: String, events: Option<Vec<String>>) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
            let body = serde_json::json!({ "url": url, "description": description, "event_types": events.unwrap_or_default() });
            let input = super::service::EndpointInput::from_json(&body)?;
            super::service::update(&state.db, state.settings.environment, &member.workspace_id, &endpoint_id, input, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "set_webhook_active")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.set_webhook_active", skip_all))]
pub async fn set_webhook_active(slug: String, endpoint_id: String, active: bool) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
            let input = super::service::EndpointInput { active: Some(active), ..Default::default() };
            super::service::update(&state.db, state.settings.environment, &member.workspace_id, &endpoint_id, input, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "rotate_webhook_secret")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.rotate_webhook_secret", skip_all))]
pub async fn rotate_webhook_secret(slug: String, endpoint_id: String) -> Result<String, AppError> {
    crate::error::respond(
        async move {
            let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
            super::service::rotate_secret(&state.db, &state.files.master, &member.workspace_id, &endpoint_id, &member.actor()).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_webhook")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.delete_webhook", skip_all))]
pub async fn delete_webhook(slug: String, endpoint_id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
            super::service::delete(&state.db, &member.workspace_id, &endpoint_id, &member.actor()).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "send_test_webhook")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.send_test_webhook", skip_all))]
pub async fn send_test_webhook(slug: String, endpoint_id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
            super::service::send_test(&state.db, &member.workspace_id, &endpoint_id, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "resend_webhook")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.resend_webhook", skip_all))]
pub async fn resend_webhook(slug: String, delivery_id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
            super::service::resend(&state.db, &member.workspace_id, &delivery_id, &member.actor()).await
        }
        .await,
    )
}

/// `/w/:slug/webhooks?endpoint=…&event=…&status=…`
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let q = move |k: &str| query.read().get(k).unwrap_or_default();
    let data = Resource::new(
        move || (slug(), q("endpoint"), q("event"), q("status")),
        |(slug, endpoint, event, status)| webhooks_view(slug, Some(endpoint), Some(event), Some(status)),
    );
    let error = || {
        forms::error::<SetWebhookActive>()
            .or_else(forms::error::<UpdateWebhook>)
            .or_else(forms::error::<DeleteWebhook>)
            .or_else(forms::error::<SendTestWebhook>)
            .or_else(forms::error::<ResendWebhook>)
    };
    view! {
        <Title text="Webhooks"/>
        <h1>"Webhooks"</h1>
        <p class="muted">"Attest signs every delivery per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). Verify it with the endpoint's secret and the raw request body."</p>
        <p class="form-error" role="alert">{error()}</p>
        {forms::done::<UpdateWebhook>().then(|| view! { <p class="saved" role="status">"Endpoint saved."</p> })}
        {forms::done::<SendTestWebhook>().then(|| view! { <p class="saved" role="status">"Test event queued. Refresh the delivery log to see it arrive."</p> })}
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading webhooks…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => {
                        let can = v.can_manage;
                        let endpoint_options: Vec<(String, String)> = v.endpoints.iter().map(|e| (e.id.clone(), e.url.clone())).collect();
                        view! {
                            {can.then(|| view! {
                                <section class="panel" aria-labelledby="new-endpoint">
                                    <h2 id="new-endpoint">"Add an endpoint"</h2>
                                    <NewEndpoint slug=slug()/>
                                </section>
                            })}
                            <h2>"Endpoints"</h2>
                            {v.endpoints.is_empty().then(|| view! {
                                <p class="empty">"No endpoints yet. Add the HTTPS address where your software receives events; each delivery is signed (Standard Webhooks), so verify it with your endpoint's secret. Until then, every event waits in the history of its verification."</p>
                            })}
                            <table class="data" aria-label="Endpoints">
                                <thead><tr><th scope="col">"URL"</th><th scope="col">"Events"</th><th scope="col">"Status"</th><th scope="col">"Actions"</th></tr></thead>
                                <tbody>
                                    {v.endpoints.into_iter().map(|e| view! {
                                        <tr>
                                            <td><code>{e.url.clone()}</code><div class="muted small">{e.description.clone()}</div></td>
                                            <td class="small">{e.event_types.join(", ")}</td>
                                            <td>
                                                {if e.active { view! { <span class="badge active">"active"</span> }.into_any() } else { view! { <span class="badge revoked">"inactive"</span> }.into_any() }}
                                                {e.disabled_reason.clone().map(|r| view! { <div class="small muted">{r}</div> })}
                                            </td>
                                            <td class="actions">
                                                {can.then(|| view! {
                                                    <form method="post" action={forms::action::<SendTestWebhook>()} class="inline">
                                                        <input type="hidden" name="slug" value=slug()/>
                                                        <input type="hidden" name="endpoint_id" value=e.id.clone()/>
                                                        <button type="submit" aria-label=format!("Send test event to {}", e.url)>"Send test event"</button>
                                                    </form>
                                                    <form method="post" action={forms::action::<SetWebhookActive>()} class="inline">
                                                        <input type="hidden" name="slug" value=slug()/>
                                                        <input type="hidden" name="endpoint_id" value=e.id.clone()/>
                                                        <input type="hidden" name="active" value=(!e.active).to_string()/>
                                                        <button type="submit">{if e.active { "Deactivate" } else { "Activate" }}</button>
                                                    </form>
                                                    <RotateSecret slug=slug() endpoint_id=e.id.clone()/>
                                                    <form method="post" action={forms::action::<DeleteWebhook>()} class="inline">
                                                        <input type="hidden" name="slug" value=slug()/>
                                                        <input type="hidden" name="endpoint_id" value=e.id.clone()/>
                                                        <button type="submit" class="danger">"Delete"</button>
                                                    </form>
                                                    <EditEndpoint slug=slug() endpoint=e.clone()/>
                                                })}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <h2>"Delivery log"</h2>
                            <form method="get" class="inline-form filters" role="search" aria-label="Filter deliveries">
                                <label for="filter-endpoint">"Endpoint"</label>
                                <select id="filter-endpoint" name="endpoint">
                                    <option value="">"any"</option>
                                    {endpoint_options.into_iter().map(|(id, url)| view! { <option value=id.clone() selected=q("endpoint") == id>{url}</option> }).collect_view()}
                                </select>
                                <label for="filter-event">"Event"</label>
                                <select id="filter-event" name="event">
                                    <option value="">"any"</option>
                                    {EVENT_TYPES.into_iter().chain(["webhook.test"]).map(|e| view! { <option value=e selected=q("event") == e>{e}</option> }).collect_view()}
                                </select>
                                <label for="filter-status">"Status"</label>
                                <select id="filter-status" name="status">
                                    {["", "pending", "succeeded", "failed", "canceled"].into_iter().map(|s| view! { <option value=s selected=q("status") == s>{if s.is_empty() { "any" } else { s }}</option> }).collect_view()}
                                </select>
                                <button type="submit">"Filter"</button>
                                // Submitting the same filters again reloads the log.
                                <button type="submit">"Refresh"</button>
                            </form>
                            <table class="data" aria-label="Deliveries">
                                <thead><tr><th scope="col">"Event"</th><th scope="col">"Endpoint"</th><th scope="col">"Status"</th><th scope="col">"Attempts"</th><th scope="col">"Actions"</th></tr></thead>
                                <tbody>
                                    {v.deliveries.into_iter().map(|d| view! {
                                        <tr>
                                            <td><code>{d.event_type.clone()}</code><div class="small muted">{d.id.clone()}</div></td>
                                            <td class="small">{d.url.clone()}</td>
                                            <td><span class=format!("badge {}", if d.status == "succeeded" { "active" } else { "revoked" })>{d.status.clone()}</span></td>
                                            <td class="small">
                                                <ul class="attempts" aria-label=format!("Attempts of {}", d.id)>
                                                    {d.attempt_log.into_iter().map(|a| view! {
                                                        <li>
                                                            {crate::dates::to_second(&a.attempted_at)} " · " {a.trigger.clone()} " · "
                                                            {a.response_status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "no response".into())}
                                                            {a.failure_class.clone().map(|c| format!(" · {c}"))}
                                                            " · " {format!("{} ms", a.duration_ms)}
                                                        </li>
                                                    }).collect_view()}
                                                </ul>
                                            </td>
                                            <td>
                                                {can.then(|| view! {
                                                    <form method="post" action={forms::action::<ResendWebhook>()} class="inline">
                                                        <input type="hidden" name="slug" value=slug()/>
                                                        <input type="hidden" name="delivery_id" value=d.id.clone()/>
                                                        <button type="submit" aria-label=format!("Resend {}", d.id)>"Resend"</button>
                                                    </form>
                                                })}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The edit form of one endpoint (URL, description, events), folded until opened. A
/// plain form: the outcome comes back in the address.
#[component]
fn EditEndpoint(slug: String, endpoint: WebhookEndpoint) -> impl IntoView {
    let id = |field: &str| format!("edit-{}-{field}", endpoint.id);
    let all = endpoint.event_types.iter().any(|e| e == "*");
    view! {
        <details class="edit-endpoint">
            <summary aria-label=format!("Edit {}", endpoint.url)>"Edit"</summary>
            <form method="post" action={forms::action::<UpdateWebhook>()} class="stack">
                <input type="hidden" name="slug" value=slug/>
                <input type="hidden" name="endpoint_id" value=endpoint.id.clone()/>
                <label for=id("url")>"URL"</label>
                <input id=id("url") type="text" name="url" required value=endpoint.url.clone()/>
                <label for=id("description")>"Description"</label>
                <input id=id("description") type="text" name="description" maxlength="500" value=endpoint.description.clone()/>
                <fieldset class="permissions">
                    <legend>"Events (none checked: all)"</legend>
                    {EVENT_TYPES.into_iter().enumerate().map(|(i, e)| view! {
                        <label><input type="checkbox" name=format!("events[{i}]") value=e checked=!all && endpoint.event_types.iter().any(|t| t == e)/>" " {e}</label>
                    }).collect_view()}
                </fieldset>
                <button type="submit" class="primary">"Save endpoint"</button>
            </form>
        </details>
    }
}

const SECRET_TITLE: &str = "Copy this signing secret now. It will not be shown again.";

/// The add-endpoint form and the new endpoint's signing secret, shown once. An island:
/// the secret comes back from the server function to the browser only.
#[island]
fn NewEndpoint(slug: String) -> impl IntoView {
    let create = ServerAction::<CreateWebhook>::new();
    let live = forms::live();
    let submit = forms::on_submit(move |f| {
        let events = Some(f.all("events")).filter(|e| !e.is_empty());
        create.dispatch(CreateWebhook { slug: slug.clone(), url: f.text("url"), description: f.text("description"), events });
    });
    view! {
        <form method="post" action={forms::action::<CreateWebhook>()} class="stack" on:submit=submit>
            <label for="endpoint-url">"URL"</label>
            <input id="endpoint-url" type="text" name="url" required placeholder="https://example.com/attest/webhooks"/>
            <label for="endpoint-description">"Description"</label>
            <input id="endpoint-description" type="text" name="description" maxlength="500"/>
            <fieldset class="permissions">
                <legend>"Events (none checked: all)"</legend>
                {EVENT_TYPES.into_iter().map(|e| view! {
                    <label><input type="checkbox" name="events" value=e/>" " {e}</label>
                }).collect_view()}
            </fieldset>
            <button type="submit" class="primary" disabled=move || !live.get() || create.pending().get()>"Add endpoint"</button>
        </form>
        {move || forms::answer(create.value().get(), |secret| view! { <forms::ShownOnce title=SECRET_TITLE testid="webhook-secret" values=vec![secret]/> })}
    }
}

/// "Rotate secret" for one endpoint, and the new secret, shown once.
#[island]
fn RotateSecret(slug: String, endpoint_id: String) -> impl IntoView {
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let live = forms::live();
    let submit = forms::on_submit(move |_| {
        rotate.dispatch(RotateWebhookSecret { slug: slug.clone(), endpoint_id: endpoint_id.clone() });
    });
    view! {
        <form method="post" action={forms::action::<RotateWebhookSecret>()} class="inline" on:submit=submit>
            <button type="submit" disabled=move || !live.get() || rotate.pending().get()>"Rotate secret"</button>
        </form>
        {move || forms::answer(rotate.value().get(), |secret| view! { <forms::ShownOnce title=SECRET_TITLE testid="webhook-secret" values=vec![secret]/> })}
    }
}
