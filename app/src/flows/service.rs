//! Per-workspace flow configuration, stored as JSON; defaults until a workspace edits it.

use super::{Flow, FlowConfig};
use crate::{error::AppError, store::{now_ms, Db}};
use sqlx::Row;

/// The workspace's configuration of `flow` (the defaults when never edited).
pub async fn load(db: &Db, workspace_id: &str, flow: Flow) -> Result<FlowConfig, AppError> {
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
}

/// Replaces the workspace's configuration of `config.flow`.
pub async fn save(db: &Db, workspace_id: &str, config: &FlowConfig) -> Result<(), AppError> {
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
    tx.commit().await?;
    Ok(())
}
