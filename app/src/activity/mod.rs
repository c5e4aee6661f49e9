//! The activity log (SPEC §8): who did what, to what, from where, when. Append-only;
//! the activity page (`activity.view`) filters it by actor and action.

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

/// The workspace's entries, plus sign-in events of its members; newest first, 200 at most.
#[server(prefix = "/rpc", endpoint = "list_activity")]
pub async fn list_activity(slug: String, actor: Option<String>, action: Option<String>) -> Result<Vec<ActivityView>, AppError> {
    crate::error::respond(
        async move {
            use sqlx::Row;
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::ActivityView).await?;
            let actor = actor.map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty());
            let action = action.map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty());
            let rows = sqlx::query(
                "SELECT a.created_at, a.actor_kind, a.actor_id, u.email AS actor_email, a.action, a.target, a.ip, a.user_agent, a.detail \
                 FROM activity a LEFT JOIN users u ON u.id = a.actor_id \
                 WHERE (a.workspace_id = $1 OR (a.workspace_id IS NULL AND (a.actor_id IN (SELECT user_id FROM memberships WHERE workspace_id = $1) \
                                                                             OR a.target IN (SELECT user_id FROM memberships WHERE workspace_id = $1)))) \
                   AND ($2 = '' OR LOWER(COALESCE(u.email, a.actor_kind)) LIKE $3) \
                   AND ($4 = '' OR a.action LIKE $5) \
                 ORDER BY a.id DESC LIMIT 200",
            )
            .bind(&member.workspace_id)
            .bind(actor.clone().unwrap_or_default())
            .bind(format!("%{}%", actor.unwrap_or_default()))
            .bind(action.clone().unwrap_or_default())
            .bind(format!("{}%", action.unwrap_or_default()))
            .fetch_all(state.db.pool())
            .await?;
            rows.iter()
                .map(|r| {
                    let kind: String = r.try_get("actor_kind")?;
                    let email: Option<String> = r.try_get("actor_email")?;
                    let actor_id: Option<String> = r.try_get("actor_id")?;
                    Ok(ActivityView {
                        at: crate::verifications::rfc3339(r.try_get("created_at")?),
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

/// `/w/:slug/activity?actor=…&action=…`
#[component]
pub fn ActivityPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let actor = move || query.read().get("actor").unwrap_or_default();
    let action = move || query.read().get("action").unwrap_or_default();
    let entries = Resource::new(move || (slug(), actor(), action()), |(slug, actor, action)| list_activity(slug, Some(actor), Some(action)));
    view! {
        <Title text="Activity"/>
        <h1>"Activity"</h1>
        <form method="get" class="inline-form filters" role="search" aria-label="Filter activity">
            <label for="actor-filter">"Actor"</label>
            <input id="actor-filter" type="text" name="actor" prop:value=actor placeholder="email or api_token"/>
            <label for="action-filter">"Action"</label>
            <input id="action-filter" type="text" name="action" prop:value=action placeholder="e.g. login, member."/>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading activity…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"Nothing matches."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="data" aria-label="Activity">
                            <thead><tr><th scope="col">"When (UTC)"</th><th scope="col">"Who"</th><th scope="col">"Action"</th><th scope="col">"Target"</th><th scope="col">"From"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|e| view! {
                                    <tr>
                                        <td>{e.at.replace('T', " ").chars().take(19).collect::<String>()}</td>
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
