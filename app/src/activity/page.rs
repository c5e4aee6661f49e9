//! The activity page (`/w/:slug/activity`, `activity.view`).

#[cfg(feature = "ssr")]
use super::service;
use super::{ActivityFilters, ActivityView};
use crate::{error::AppError, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The workspace's entries, plus sign-in events of its members; newest first, 200 at most.
#[server(prefix = "/rpc", endpoint = "list_activity")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.list_activity", skip_all))]
pub async fn list_activity(slug: String, filters: Option<ActivityFilters>) -> Result<Vec<ActivityView>, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::ActivityView).await?;
            service::list(&state.db, &member.workspace_id, &filters.unwrap_or_default()).await
        }
        .await,
    )
}

/// `/w/:slug/activity?actor=…&action=…&target=…&from=…&to=…`
#[component]
pub fn ActivityPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let filters = move || ActivityFilters {
        actor: Some(get("actor")),
        action: Some(get("action")),
        target: Some(get("target")),
        from: Some(get("from")),
        to: Some(get("to")),
    };
    let entries = Resource::new(move || (slug(), filters()), |(slug, filters)| list_activity(slug, Some(filters)));
    view! {
        <Title text="Activity"/>
        <h1>"Activity"</h1>
        <form method="get" class="inline-form filters" role="search" aria-label="Filter activity">
            <label for="actor-filter">"Actor"</label>
            <input id="actor-filter" type="text" name="actor" value=get("actor") placeholder="email or api_token"/>
            <label for="action-filter">"Action"</label>
            <input id="action-filter" type="text" name="action" value=get("action") placeholder="e.g. login, member."/>
            <label for="target-filter">"Target"</label>
            <input id="target-filter" type="text" name="target" value=get("target") placeholder="id, e.g. ver_…"/>
            <label for="from-filter">"From"</label>
            <input id="from-filter" type="date" name="from" value=get("from")/>
            <label for="to-filter">"To"</label>
            <input id="to-filter" type="date" name="to" value=get("to")/>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading activity…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"Nothing matches these filters. Clear them to see every entry: sign-ins, changes and API writes are all recorded here."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="data" aria-label="Activity">
                            <thead><tr><th scope="col">"When (UTC)"</th><th scope="col">"Who"</th><th scope="col">"Action"</th><th scope="col">"Target"</th><th scope="col">"From"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|e| view! {
                                    <tr>
                                        <td>{crate::dates::to_second(&e.at)}</td>
                                        <td>{e.actor}</td>
                                        <td><code>{e.action}</code></td>
                                        <td class="muted">{e.target.unwrap_or_default()}</td>
                                        <td class="muted" title=e.user_agent.unwrap_or_default()>{e.ip.unwrap_or_default()}</td>
                                    </tr>
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
