//! Per-workspace flow configuration, stored as JSON; defaults until a workspace edits it.

use super::{Flow, FlowConfig};
use crate::{
    error::AppError,
    store::{now_ms, Db},
};
use sqlx::Row;

/// The workspace's configuration of `flow` (the defaults when never edited).
pub async fn load(db: &Db, workspace_id: &str, flow: Flow) -> Result<FlowConfig, AppError> {
    // Read on every create and upload; changed only by `save`, which bumps the epoch.
    db.cached(format!("flow_config/{workspace_id}/{}", flow.code()), || async {
        let row = sqlx::query("SELECT config FROM flow_configs WHERE workspace_id = $1 AND flow = $2")
            .bind(workspace_id)
            .bind(flow.code())
            .fetch_optional(db.pool())
            .await?;
        match row {
            Some(row) => {
                let text: String = row.try_get("config")?;
                serde_json::from_str(&text).map_err(|e| AppError::internal("stored flow configuration", e))
            }
            None => Ok(FlowConfig::default_for(flow)),
        }
    })
    .await
}

/// Replaces the workspace's configuration of `config.flow`.
pub async fn save(db: &Db, workspace_id: &str, config: &FlowConfig, actor: &crate::access::Actor) -> Result<(), AppError> {
    let text = serde_json::to_string(config).map_err(|e| AppError::internal("flow configuration", e))?;
    let mut tx = db.begin_write().await?;
    let updated = sqlx::query("UPDATE flow_configs SET config = $1, updated_at = $2 WHERE workspace_id = $3 AND flow = $4")
        .bind(&text)
        .bind(now_ms())
        .bind(workspace_id)
        .bind(config.flow.code())
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        sqlx::query("INSERT INTO flow_configs (workspace_id, flow, config, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(workspace_id)
            .bind(config.flow.code())
            .bind(&text)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    crate::activity::record(
        &mut *tx,
        crate::activity::Entry { workspace_id: Some(workspace_id), actor, action: "settings.flow_updated", target: Some(config.flow.code()), detail: None },
        &crate::activity::RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    db.bump_epoch();
    Ok(())
}

/// The workspace's blacklisted addresses, one per entry, as entered.
pub async fn blacklist(db: &Db, workspace_id: &str) -> Result<Vec<String>, AppError> {
    Ok(sqlx::query_scalar("SELECT address FROM address_blacklist WHERE workspace_id = $1 ORDER BY address").bind(workspace_id).fetch_all(db.pool()).await?)
}

/// Replaces the blacklist with `addresses` (blank lines dropped, duplicates merged).
pub async fn save_blacklist(db: &Db, workspace_id: &str, addresses: &[String], actor: &crate::access::Actor) -> Result<(), AppError> {
    let mut unique: Vec<String> = addresses.iter().map(|a| a.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|a| !a.is_empty()).collect();
    unique.sort();
    unique.dedup();
    if unique.len() > 5000 || unique.iter().any(|a| a.len() > 300) {
        return Err(AppError::invalid("addresses", "The blacklist takes at most 5000 addresses of at most 300 characters."));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM address_blacklist WHERE workspace_id = $1").bind(workspace_id).execute(&mut *tx).await?;
    for address in &unique {
        sqlx::query("INSERT INTO address_blacklist (workspace_id, address, created_at) VALUES ($1, $2, $3)")
            .bind(workspace_id)
            .bind(address)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    crate::activity::record(
        &mut *tx,
        crate::activity::Entry {
            workspace_id: Some(workspace_id),
            actor,
            action: "settings.blacklist_updated",
            target: None,
            detail: Some(serde_json::json!({ "count": unique.len() })),
        },
        &crate::activity::RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
