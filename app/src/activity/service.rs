//! Appending to the activity log: one row per action, in the transaction of the change.

use crate::{
    access::Actor,
    store::{batch::Statement, ids::new_id, now_ms},
};
use sqlx::{Any, Executor};

/// Where a request came from, for the activity log.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

tokio::task_local! {
    /// The origin of the request being served on this task, see [`in_request`].
    static ORIGIN: RequestOrigin;
}

/// Serves a request with its `origin` known to every activity entry written while it
/// runs (dashboard actions and API writes alike), without passing it down the calls.
/// The server's outermost layer sets it (client address per `ATTEST_TRUSTED_PROXIES`).
pub async fn in_request<F: std::future::Future>(origin: RequestOrigin, serve: F) -> F::Output {
    ORIGIN.scope(origin, serve).await
}

impl RequestOrigin {
    /// The origin of the request this task serves; none for jobs and the CLI.
    pub fn current() -> RequestOrigin {
        ORIGIN.try_with(Clone::clone).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.ip.is_none() && self.user_agent.is_none()
    }
}

/// One entry to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub workspace_id: Option<&'a str>,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: Option<serde_json::Value>,
}

/// Appends `entry`; pass the transaction of the change it describes.
pub async fn record<'e, E>(executor: E, entry: Entry<'_>, origin: &RequestOrigin) -> Result<(), sqlx::Error>
where
    E: Executor<'e, Database = Any>,
{
    statement(entry, origin).execute(executor).await
}

/// The insert for `entry`, to run in a [`crate::store::batch::Batch`]. An empty
/// `origin` means the current request's ([`RequestOrigin::current`]).
pub fn statement(entry: Entry<'_>, origin: &RequestOrigin) -> Statement {
    let current;
    let origin = if origin.is_empty() {
        current = RequestOrigin::current();
        &current
    } else {
        origin
    };
    let (actor_kind, actor_id) = entry.actor.kind_and_id();
    Statement::new(
        "INSERT INTO activity (id, workspace_id, actor_kind, actor_id, action, target, ip, user_agent, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id("act"))
    .bind(entry.workspace_id)
    .bind(actor_kind)
    .bind(actor_id)
    .bind(entry.action)
    .bind(entry.target)
    .bind(origin.ip.clone())
    .bind(origin.user_agent.clone())
    .bind(entry.detail.map(|d| d.to_string()))
    .bind(now_ms())
}

/// The workspace's entries, plus sign-in events of its members; newest first, 200 at most.
pub async fn list(db: &crate::store::Db, workspace_id: &str, f: &super::ActivityFilters) -> Result<Vec<super::ActivityView>, crate::error::AppError> {
    use sqlx::Row;
    let clean = |v: Option<String>| v.map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty());
    let (actor, action, target) = (clean(f.actor.clone()), clean(f.action.clone()), f.target.clone().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()));
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
    .bind(workspace_id)
    .bind(actor.clone().unwrap_or_default())
    .bind(format!("%{}%", actor.unwrap_or_default()))
    .bind(action.clone().unwrap_or_default())
    .bind(format!("{}%", action.unwrap_or_default()))
    .bind(target.clone().unwrap_or_default())
    .bind(target.map(|t| t.chars().count() as i32).unwrap_or(0))
    .bind(from)
    .bind(until)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("actor_kind")?;
            let email: Option<String> = r.try_get("actor_email")?;
            let actor_id: Option<String> = r.try_get("actor_id")?;
            Ok(super::ActivityView {
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
