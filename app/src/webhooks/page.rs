//! The webhooks page: endpoints (`webhooks.view` to see, `webhooks.manage` to change),
//! the secret shown once, rotation, test events, and the delivery log with resend.

use super::{Delivery, WebhookEndpoint, EVENT_TYPES};
use crate::{error::AppError, layout::ErrorNotice};
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
pub async fn webhooks_view(slug: String, endpoint: Option<String>, event: Option<String>, status: Option<String>) -> Result<WebhooksOverview, AppError> {
    crate::error::respond(async move {
        let (state, member) = member(&slug, crate::access::Permission::WebhooksView).await?;
        let filter = super::service::DeliveryFilter {
            endpoint_id: endpoint.filter(|e| !e.is_empty()),
            event_type: event.filter(|e| !e.is_empty()),
            status: status.filter(|e| !e.is_empty()),
            limit: 50,
        };
        Ok(WebhooksOverview {
            endpoints: super::service::list(&state.db, &member.workspace_id).await?,
            deliveries: super::service::deliveries(&state.db, &member.workspace_id, &filter).await?,
            can_manage: member.role.has(crate::access::Permission::WebhooksManage),
        })
    }.await)
}

/// Creates an endpoint; returns its secret, the only time it is shown.
#[server(prefix = "/rpc", endpoint = "create_webhook")]
pub async fn create_webhook(slug: String, url: String, description: String, events: Option<Vec<String>>) -> Result<String, AppError> {
    crate::error::respond(async move {
        let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
        let input = super::service::EndpointInput { url: Some(url), description: Some(description), event_types: events, active: Some(true) };
        let created = super::service::create(&state.db, &state.files.master, state.settings.environment, &member.workspace_id, input, &member.actor()).await?;
        Ok(created.secret)
    }.await)
}

#[server(prefix = "/rpc", endpoint = "set_webhook_active")]
pub async fn set_webhook_active(slug: String, endpoint_id: String, active: bool) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
        let input = super::service::EndpointInput { active: Some(active), ..Default::default() };
        super::service::update(&state.db, state.settings.environment, &member.workspace_id, &endpoint_id, input, &member.actor()).await.map(|_| ())
    }.await)
}

#[server(prefix = "/rpc", endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(slug: String, endpoint_id: String) -> Result<String, AppError> {
    crate::error::respond(async move {
        let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
        super::service::rotate_secret(&state.db, &state.files.master, &member.workspace_id, &endpoint_id, &member.actor()).await
    }.await)
}

#[server(prefix = "/rpc", endpoint = "delete_webhook")]
pub async fn delete_webhook(slug: String, endpoint_id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
        super::service::delete(&state.db, &member.workspace_id, &endpoint_id, &member.actor()).await
    }.await)
}

#[server(prefix = "/rpc", endpoint = "send_test_webhook")]
pub async fn send_test_webhook(slug: String, endpoint_id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
        super::service::send_test(&state.db, &member.workspace_id, &endpoint_id, &member.actor()).await.map(|_| ())
    }.await)
}

#[server(prefix = "/rpc", endpoint = "resend_webhook")]
pub async fn resend_webhook(slug: String, delivery_id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, member) = member(&slug, crate::access::Permission::WebhooksManage).await?;
        super::service::resend(&state.db, &member.workspace_id, &delivery_id, &member.actor()).await
    }.await)
}

fn message(e: AppError) -> String {
    match e {
        AppError::Validation(fields) => fields.into_values().flatten().collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

fn short(t: &str) -> String {
    t.replace('T', " ").chars().take(19).collect()
}

/// `/w/:slug/webhooks?endpoint=…&event=…&status=…`
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let q = move |k: &str| query.read().get(k).unwrap_or_default();
    let create = ServerAction::<CreateWebhook>::new();
    let toggle = ServerAction::<SetWebhookActive>::new();
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let test = ServerAction::<SendTestWebhook>::new();
    let resend = ServerAction::<ResendWebhook>::new();
    let refresh = RwSignal::new(0u32);
    let data = Resource::new(
        move || (slug(), q("endpoint"), q("event"), q("status"), create.version().get(), toggle.version().get(), rotate.version().get(), delete.version().get(), test.version().get(), resend.version().get(), refresh.get()),
        |(slug, endpoint, event, status, ..)| webhooks_view(slug, Some(endpoint), Some(event), Some(status)),
    );
    let secret = move || create.value().get().and_then(Result::ok).or_else(|| rotate.value().get().and_then(Result::ok));
    let errors = move || {
        [create.value().get().map(|r| r.map(|_| ())), rotate.value().get().map(|r| r.map(|_| ())), toggle.value().get(), delete.value().get(), test.value().get(), resend.value().get()]
            .into_iter()
            .flatten()
            .find_map(Result::err)
            .map(message)
    };

    view! {
        <Title text="Webhooks"/>
        <h1>"Webhooks"</h1>
        <p class="muted">"Attest signs every delivery per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). Verify it with the endpoint's secret and the raw request body."</p>
        <p class="form-error" role="alert">{errors}</p>
        {move || secret().map(|s| view! {
            <div class="secret" role="status">
                <p><strong>"Copy this signing secret now. It will not be shown again."</strong></p>
                <code data-testid="webhook-secret">{s}</code>
            </div>
        })}
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
                                    <ActionForm action=create attr:class="stack">
                                        <input type="hidden" name="slug" prop:value=slug/>
                                        <label for="endpoint-url">"URL"</label>
                                        <input id="endpoint-url" type="text" name="url" required placeholder="https://example.com/attest/webhooks"/>
                                        <label for="endpoint-description">"Description"</label>
                                        <input id="endpoint-description" type="text" name="description" maxlength="500"/>
                                        <fieldset class="permissions">
                                            <legend>"Events (none checked: all)"</legend>
                                            {EVENT_TYPES.into_iter().enumerate().map(|(i, e)| view! {
                                                <label><input type="checkbox" name=format!("events[{i}]") value=e/>" " {e}</label>
                                            }).collect_view()}
                                        </fieldset>
                                        <button type="submit" class="primary">"Add endpoint"</button>
                                    </ActionForm>
                                </section>
                            })}
                            <h2>"Endpoints"</h2>
                            <table class="data" aria-label="Endpoints">
                                <thead><tr><th scope="col">"URL"</th><th scope="col">"Events"</th><th scope="col">"Status"</th><th scope="col">"Actions"</th></tr></thead>
                                <tbody>
                                    {v.endpoints.into_iter().map(|e| {
                                        let id = StoredValue::new(e.id.clone());
                                        let url = StoredValue::new(e.url.clone());
                                        view! {
                                            <tr>
                                                <td><code>{e.url.clone()}</code><div class="muted small">{e.description.clone()}</div></td>
                                                <td class="small">{e.event_types.join(", ")}</td>
                                                <td>
                                                    {if e.active { view! { <span class="badge active">"active"</span> }.into_any() } else { view! { <span class="badge revoked">"inactive"</span> }.into_any() }}
                                                    {e.disabled_reason.clone().map(|r| view! { <div class="small muted">{r}</div> })}
                                                </td>
                                                <td class="actions">
                                                    {can.then(|| view! {
                                                        <ActionForm action=test attr:class="inline">
                                                            <input type="hidden" name="slug" prop:value=slug/>
                                                            <input type="hidden" name="endpoint_id" value=id.get_value()/>
                                                            <button type="submit" aria-label=format!("Send test event to {}", url.get_value())>"Send test event"</button>
                                                        </ActionForm>
                                                        <ActionForm action=toggle attr:class="inline">
                                                            <input type="hidden" name="slug" prop:value=slug/>
                                                            <input type="hidden" name="endpoint_id" value=id.get_value()/>
                                                            <input type="hidden" name="active" value=(!e.active).to_string()/>
                                                            <button type="submit">{if e.active { "Deactivate" } else { "Activate" }}</button>
                                                        </ActionForm>
                                                        <ActionForm action=rotate attr:class="inline">
                                                            <input type="hidden" name="slug" prop:value=slug/>
                                                            <input type="hidden" name="endpoint_id" value=id.get_value()/>
                                                            <button type="submit">"Rotate secret"</button>
                                                        </ActionForm>
                                                        <ActionForm action=delete attr:class="inline">
                                                            <input type="hidden" name="slug" prop:value=slug/>
                                                            <input type="hidden" name="endpoint_id" value=id.get_value()/>
                                                            <button type="submit" class="danger">"Delete"</button>
                                                        </ActionForm>
                                                    })}
                                                </td>
                                            </tr>
                                        }
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
                                <button type="button" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button>
                            </form>
                            <table class="data" aria-label="Deliveries">
                                <thead><tr><th scope="col">"Event"</th><th scope="col">"Endpoint"</th><th scope="col">"Status"</th><th scope="col">"Attempts"</th><th scope="col">"Actions"</th></tr></thead>
                                <tbody>
                                    {v.deliveries.into_iter().map(|d| {
                                        let delivery = StoredValue::new(d.id.clone());
                                        view! {
                                            <tr>
                                                <td><code>{d.event_type.clone()}</code><div class="small muted">{d.id.clone()}</div></td>
                                                <td class="small">{d.url.clone()}</td>
                                                <td><span class=format!("badge {}", if d.status == "succeeded" { "active" } else { "revoked" })>{d.status.clone()}</span></td>
                                                <td class="small">
                                                    <ul class="attempts" aria-label=format!("Attempts of {}", d.id)>
                                                        {d.attempt_log.into_iter().map(|a| view! {
                                                            <li>
                                                                {short(&a.attempted_at)} " · " {a.trigger.clone()} " · "
                                                                {a.response_status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "no response".into())}
                                                                {a.failure_class.clone().map(|c| format!(" · {c}"))}
                                                                " · " {format!("{} ms", a.duration_ms)}
                                                            </li>
                                                        }).collect_view()}
                                                    </ul>
                                                </td>
                                                <td>
                                                    {can.then(|| view! {
                                                        <ActionForm action=resend attr:class="inline">
                                                            <input type="hidden" name="slug" prop:value=slug/>
                                                            <input type="hidden" name="delivery_id" value=delivery.get_value()/>
                                                            <button type="submit" aria-label=format!("Resend {}", delivery.get_value())>"Resend"</button>
                                                        </ActionForm>
                                                    })}
                                                </td>
                                            </tr>
                                        }
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
