//! The journal: what every change writes beside itself, in the same transaction: the
//! activity entry, and for a verification or its documents also the history entry, the
//! outbox event for webhooks and any job. Services open a write transaction, make their
//! change, journal it here and commit; nothing is logged after a commit.

use crate::{
    access::Actor,
    activity::{self, Entry, RequestOrigin},
    store::{
        batch::{Batch, Statement},
        ids::new_id,
        now_ms,
    },
    webhooks,
};
use serde_json::Value;
use sqlx::{Any, Transaction};

pub type Tx = Transaction<'static, Any>;

/// One change to a verification or one of its documents.
pub struct Change<'a> {
    pub workspace_id: &'a str,
    pub verification_id: &'a str,
    pub document_id: Option<&'a str>,
    /// The event name, also the webhook event type: `verification.created`, …
    pub event: &'a str,
    pub actor: &'a Actor,
    /// Details for the history timeline.
    pub data: Value,
}

/// Appends the history entry and the activity entry for `change`.
pub async fn record(tx: &mut Tx, change: &Change<'_>) -> Result<(), sqlx::Error> {
    let mut batch = Batch::new();
    record_into(&mut batch, change);
    batch.run(&mut *tx).await
}

/// [`record`]'s statements, added to `batch`.
pub fn record_into(batch: &mut Batch, change: &Change<'_>) {
    let (actor_kind, actor_id) = change.actor.kind_and_id();
    batch.push(
        Statement::new(
            "INSERT INTO history (id, workspace_id, verification_id, document_id, event, actor_kind, actor_id, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new_id("hst"))
        .bind(change.workspace_id)
        .bind(change.verification_id)
        .bind(change.document_id)
        .bind(change.event)
        .bind(actor_kind)
        .bind(actor_id)
        .bind(change.data.to_string())
        .bind(now_ms()),
    );
    let target = change.document_id.unwrap_or(change.verification_id);
    batch.push(activity::statement(
        Entry { workspace_id: Some(change.workspace_id), actor: change.actor, action: change.event, target: Some(target), detail: None },
        &RequestOrigin::default(),
    ));
}

/// Writes an event to the outbox: `{ "type", "created_at", "data": { "object": … } }`.
/// `object` carries its own `version`, so receivers can drop stale events.
pub async fn emit(tx: &mut Tx, workspace_id: &str, event_type: &str, object_id: &str, version: i64, object: &Value) -> Result<String, sqlx::Error> {
    emit_data(tx, workspace_id, event_type, object_id, version, serde_json::json!({ "object": object })).await
}

/// [`emit`] with the whole `data` given: `{"object": …}` and fields beside it.
pub async fn emit_data(tx: &mut Tx, workspace_id: &str, event_type: &str, object_id: &str, version: i64, data: Value) -> Result<String, sqlx::Error> {
    let endpoints = webhooks::service::subscribers(&mut **tx, workspace_id, event_type).await?;
    let mut batch = Batch::new();
    let id = emit_data_into(&mut batch, &endpoints, workspace_id, event_type, object_id, version, data);
    batch.run(&mut *tx).await?;
    Ok(id)
}

/// [`emit`]'s statements for the given subscribed `endpoints`, added to `batch`.
pub fn emit_into(batch: &mut Batch, endpoints: &[String], workspace_id: &str, event_type: &str, object_id: &str, version: i64, object: &Value) -> String {
    emit_data_into(batch, endpoints, workspace_id, event_type, object_id, version, serde_json::json!({ "object": object }))
}

/// [`emit_data`]'s statements, added to `batch`.
pub fn emit_data_into(batch: &mut Batch, endpoints: &[String], workspace_id: &str, event_type: &str, object_id: &str, version: i64, data: Value) -> String {
    let id = new_id("evt");
    let now = now_ms();
    let payload = serde_json::json!({
        "id": id,
        "type": event_type,
        "created_at": crate::dates::rfc3339(now),
        "data": data,
    })
    .to_string();
    batch.push(
        Statement::new("INSERT INTO events (id, workspace_id, type, object_id, object_version, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&id)
            .bind(workspace_id)
            .bind(event_type)
            .bind(object_id)
            .bind(version)
            .bind(payload.as_str())
            .bind(now),
    );
    webhooks::service::fan_out_into(batch, endpoints, workspace_id, &id, event_type, &payload);
    id
}

/// Enqueues a durable job, run by a worker after the transaction commits.
pub async fn enqueue(tx: &mut Tx, kind: &str, payload: &Value) -> Result<String, sqlx::Error> {
    crate::jobs::enqueue(tx, kind, payload, now_ms(), 5).await
}

/// Journals a change that is not about a verification (members, webhooks, settings): its
/// activity entry, in the change's own transaction.
pub async fn note(tx: &mut Tx, workspace_id: &str, actor: &Actor, action: &str, target: &str, detail: Option<Value>) -> Result<(), sqlx::Error> {
    activity::record(&mut **tx, Entry { workspace_id: Some(workspace_id), actor, action, target: Some(target), detail }, &RequestOrigin::default()).await
}
