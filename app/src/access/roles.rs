//! Custom roles: a workspace's own named sets of permissions, next to the built-in
//! roles, assignable to members like them.

use super::{Actor, CustomRole, Permission, Role, RoleRef};
use crate::{
    activity::{self, Entry, RequestOrigin},
    error::AppError,
    store::{ids::new_id, now_ms, Db},
};
use sqlx::Row;

fn decode_permissions(text: &str) -> Vec<Permission> {
    text.split_whitespace().filter_map(|code| Permission::ALL.into_iter().find(|p| p.code() == code)).collect()
}

/// A stored role value (`owner`…, or a custom role's id) in its workspace.
pub async fn resolve(db: &Db, workspace_id: &str, code: &str) -> Result<RoleRef, AppError> {
    if let Ok(role) = code.parse::<Role>() {
        return Ok(RoleRef::Builtin(role));
    }
    let row = sqlx::query("SELECT id, name, permissions FROM custom_roles WHERE id = $1 AND workspace_id = $2")
        .bind(code)
        .bind(workspace_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| AppError::invalid("role", "The selected role is invalid."))?;
    let permissions: String = row.try_get("permissions")?;
    Ok(RoleRef::Custom(CustomRole { id: row.try_get("id")?, name: row.try_get("name")?, permissions: decode_permissions(&permissions) }))
}

/// Builds a [`RoleRef`] from a membership row joined with `custom_roles` (columns
/// `role`, `custom_name`, `custom_permissions`).
pub fn from_row(row: &sqlx::any::AnyRow) -> Result<RoleRef, AppError> {
    let code: String = row.try_get("role")?;
    if let Ok(role) = code.parse::<Role>() {
        return Ok(RoleRef::Builtin(role));
    }
    let name: Option<String> = row.try_get("custom_name")?;
    let permissions: Option<String> = row.try_get("custom_permissions")?;
    match name {
        Some(name) => Ok(RoleRef::Custom(CustomRole { id: code, name, permissions: decode_permissions(&permissions.unwrap_or_default()) })),
        None => Err(AppError::internal("membership role", format!("unknown role {code}"))),
    }
}

pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<CustomRole>, AppError> {
    let rows =
        sqlx::query("SELECT id, name, permissions FROM custom_roles WHERE workspace_id = $1 ORDER BY name").bind(workspace_id).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            let permissions: String = r.try_get("permissions")?;
            Ok(CustomRole { id: r.try_get("id")?, name: r.try_get("name")?, permissions: decode_permissions(&permissions) })
        })
        .collect()
}

pub async fn create(db: &Db, workspace_id: &str, name: &str, permission_codes: &[String], actor: &Actor) -> Result<CustomRole, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(AppError::invalid("name", "The name must be 1–50 characters."));
    }
    if name.parse::<Role>().is_ok() {
        return Err(AppError::invalid("name", "That name belongs to a built-in role."));
    }
    let mut permissions = Vec::new();
    for code in permission_codes {
        match Permission::ALL.into_iter().find(|p| p.code() == code) {
            Some(p) if !permissions.contains(&p) => permissions.push(p),
            Some(_) => {}
            None => return Err(AppError::invalid("permissions", "An unknown permission was given.".to_string())),
        }
    }
    if permissions.is_empty() {
        return Err(AppError::invalid("permissions", "Choose at least one permission."));
    }
    let role = CustomRole { id: new_id("role"), name: name.to_string(), permissions };
    let codes: Vec<&str> = role.permissions.iter().map(|p| p.code()).collect();
    let inserted = sqlx::query("INSERT INTO custom_roles (id, workspace_id, name, permissions, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&role.id)
        .bind(workspace_id)
        .bind(&role.name)
        .bind(codes.join(" "))
        .bind(now_ms())
        .execute(db.pool())
        .await;
    // A taken name is answered 422 by `AppError::from` (store::constraint).
    inserted?;
    activity::record(
        db.pool(),
        Entry {
            workspace_id: Some(workspace_id),
            actor,
            action: "role.created",
            target: Some(&role.id),
            detail: Some(serde_json::json!({ "name": role.name, "permissions": codes })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    Ok(role)
}

/// Deletes a custom role that no member holds.
pub async fn delete(db: &Db, workspace_id: &str, role_id: &str, actor: &Actor) -> Result<(), AppError> {
    let holders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = $2")
        .bind(workspace_id)
        .bind(role_id)
        .fetch_one(db.pool())
        .await?;
    if holders > 0 {
        return Err(AppError::BadRequest(format!("The role is assigned to {holders} member(s). Give them another role first.")));
    }
    let deleted = sqlx::query("DELETE FROM custom_roles WHERE id = $1 AND workspace_id = $2").bind(role_id).bind(workspace_id).execute(db.pool()).await?;
    if deleted.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    activity::record(
        db.pool(),
        Entry { workspace_id: Some(workspace_id), actor, action: "role.deleted", target: Some(role_id), detail: None },
        &RequestOrigin::default(),
    )
    .await?;
    Ok(())
}
