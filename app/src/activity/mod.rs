//! The activity log (SPEC §8): who did what, to what, from where, when. Append-only;
//! the activity page (`activity.view`) filters it by actor, action, target and time.

#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
pub use service::*;

use crate::{error::AppError, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    pub at: String,
    /// The acting user's email, or `api_token:…`, `system`, `operator`.
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// Filters of the activity page; every one optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityFilters {
    /// Part of the actor's e-mail or kind (`api_token`, `system`).
    pub actor: Option<String>,
    /// Start of the action (`login`, `member.`).
    pub action: Option<String>,
    /// Start of the target's id (`ver_…`, `usr_…`).
    pub target: Option<String>,
    /// First and last day (UTC), `YYYY-MM-DD`.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The workspace's entries, plus sign-in events of its members; newest first, 200 at most.
#[server(prefix = "/rpc", endpoint = "list_activity")]
pub async fn list_activity(slug: String, filters: Option<ActivityFilters>) -> Result<Vec<ActivityView>, AppError> {
    crate::error::respond(
        async move {
            use sqlx::Row;
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::ActivityView).await?;
            let f = filters.unwrap_or_default();
            let clean = |v: Option<String>| v.map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty());
            let (actor, action, target) = (clean(f.actor), clean(f.action), f.target.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()));
            let from = crate::dates::day("from", f.from.as_deref(), crate::dates::Bound::Start)?.unwrap_or(i64::MIN);
            let until = crate::dates::day("to", f.to.as_deref(), crate::dates::Bound::End)?.unwrap_or(i64::MAX);
            let rows = sqlx::query(
                "SELECT a.created_at, a.actor_kind, a.actor_id, u.email AS actor_email, a.action, a.target, a.ip, a.user_agent, a.detail \
                 FROM activity a LEFT JOIN users u ON u.id = a.actor_id \
                 WHERE (a.workspace_id = $1 OR (a.workspace_id IS NULL AND (a.actor_id IN (SELECT user_id FROM memberships WHERE workspace_id = $1) \
                                                                             OR a.target IN (SELECT user_id FROM memberships WHERE workspace_id = $1)))) \
                   AND ($2 = '' OR LOWER(COALESCE(u.email, a.actor_kind)) LIKE $3) \
                   AND ($4 = '' OR a.action LIKE $5) \
                   AND ($6 = '' OR substr(a.target, 1, $7) = $6) \
                   AND a.created_at >= $8 AND a.created_at < $9 \
                 ORDER BY a.id DESC LIMIT 200",
            )
            .bind(&member.workspace_id)
            .bind(actor.clone().unwrap_or_default())
            .bind(format!("%{}%", actor.unwrap_or_default()))
            .bind(action.clone().unwrap_or_default())
            .bind(format!("{}%", action.unwrap_or_default()))
            .bind(target.clone().unwrap_or_default())
            .bind(target.map(|t| t.chars().count() as i32).unwrap_or(0))
            .bind(from)
            .bind(until)
            .fetch_all(state.db.pool())
            .await?;
            rows.iter()
                .map(|r| {
                    let kind: String = r.try_get("actor_kind")?;
                    let email: Option<String> = r.try_get("actor_email")?;
                    let actor_id: Option<String> = r.try_get("actor_id")?;
                    Ok(ActivityView {
                        at: crate::dates::rfc3339(r.try_get("created_at")?),
                        actor: email.unwrap_or_else(|| actor_id.map(|id| format!("{kind}:{id}")).unwrap_or(kind)),
                        action: r.try_get("action")?,
                        target: r.try_get("target")?,
                        ip: r.try_get("ip")?,
                        user_agent: r.try_get("user_agent")?,
                        detail: r.try_get("detail")?,
                    })
                })
                .collect()
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
