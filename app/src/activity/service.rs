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

/// The insert for `entry`, to run in a [`crate::store::batch::Batch`].
pub fn statement(entry: Entry<'_>, origin: &RequestOrigin) -> Statement {
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
