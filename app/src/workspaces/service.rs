//! Workspace rows: creation (operator), lookup, and membership resolution.

use super::WorkspaceSummary;
use crate::{
    access::Actor,
    activity::{self, Entry, RequestOrigin},
    error::AppError,
    store::{ids::new_id, now_ms, unique_violation, Db, Unique},
};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: String,
    pub slug: String,
    pub name: String,
}

/// Lower-case letters, digits and single dashes, 2–40 characters.
pub fn validate_slug(slug: &str) -> Result<(), AppError> {
    let ok = (2..=40).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid("slug", "The slug must be 2–40 lower-case letters, digits or single dashes."))
    }
}

/// A slug derived from a display name: "Acme Mail Co." → "acme-mail-co".
pub fn slug_from_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(40).collect::<String>().trim_end_matches('-').to_string()
}

pub async fn create(db: &Db, name: &str, slug: Option<&str>, actor: &Actor) -> Result<Workspace, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name", "The name must be 1–100 characters."));
    }
    let slug = slug.map(str::to_string).unwrap_or_else(|| slug_from_name(name));
    validate_slug(&slug)?;
    let workspace = Workspace { id: new_id("ws"), slug, name: name.to_string() };

    let mut tx = db.begin_write().await?;
    let inserted = sqlx::query("INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&workspace.id)
        .bind(&workspace.slug)
        .bind(&workspace.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await;
    match inserted {
        Err(e) if unique_violation(&e) == Some(Unique::WorkspaceSlug) => {
            return Err(AppError::Conflict(format!("The slug '{}' is already taken.", workspace.slug)))
        }
        other => other?,
    };
    activity::record(
        &mut *tx,
        Entry {
            workspace_id: Some(&workspace.id),
            actor,
            action: "workspace.created",
            target: Some(&workspace.id),
            detail: Some(serde_json::json!({ "slug": workspace.slug, "name": workspace.name })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(workspace)
}

pub async fn find_by_slug(db: &Db, slug: &str) -> Result<Option<Workspace>, AppError> {
    let row = sqlx::query("SELECT id, slug, name FROM workspaces WHERE slug = $1").bind(slug).fetch_optional(db.pool()).await?;
    row.map(|r| Ok(Workspace { id: r.try_get("id")?, slug: r.try_get("slug")?, name: r.try_get("name")? })).transpose()
}

fn summary(row: sqlx::any::AnyRow) -> Result<WorkspaceSummary, AppError> {
    Ok(WorkspaceSummary { slug: row.try_get("slug")?, name: row.try_get("name")?, role: crate::access::roles::from_row(&row)? })
}

const MEMBERSHIP_COLUMNS: &str = "SELECT w.slug, w.name, m.role, cr.name AS custom_name, cr.permissions AS custom_permissions \
     FROM memberships m JOIN workspaces w ON w.id = m.workspace_id LEFT JOIN custom_roles cr ON cr.id = m.role";

pub async fn list_for_user(db: &Db, user_id: &str) -> Result<Vec<WorkspaceSummary>, AppError> {
    sqlx::query(&format!("{MEMBERSHIP_COLUMNS} WHERE m.user_id = $1 ORDER BY w.name"))
        .bind(user_id)
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(summary)
        .collect()
}

/// The user's membership in workspace `slug`: 403 when the workspace is not theirs
/// (whether or not it exists, so slugs cannot be probed).
pub async fn membership(db: &Db, user_id: &str, slug: &str) -> Result<WorkspaceSummary, AppError> {
    let row = sqlx::query(&format!("{MEMBERSHIP_COLUMNS} WHERE m.user_id = $1 AND w.slug = $2")).bind(user_id).bind(slug).fetch_optional(db.pool()).await?;
    row.map(summary).transpose()?.ok_or(AppError::Forbidden)
}

/// Sets the workspace's API budget (requests per minute, shared by all its tokens).
pub async fn set_rate_limit(db: &Db, slug: &str, per_minute: i64, actor: &Actor) -> Result<(), AppError> {
    if !(1..=10_000_000).contains(&per_minute) {
        return Err(AppError::invalid("per_minute", "The rate limit must be between 1 and 10000000 requests a minute."));
    }
    let workspace = find_by_slug(db, slug).await?.ok_or_else(|| AppError::invalid("workspace", format!("No workspace has the slug '{slug}'.")))?;
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE workspaces SET rate_limit_per_minute = $1 WHERE id = $2").bind(per_minute).bind(&workspace.id).execute(&mut *tx).await?;
    activity::record(
        &mut *tx,
        Entry {
            workspace_id: Some(&workspace.id),
            actor,
            action: "workspace.rate_limit_changed",
            target: Some(&workspace.id),
            detail: Some(serde_json::json!({ "per_minute": per_minute })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A workspace's figures for its overview page.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// `(flow, status, count)`.
    pub counts: Vec<(String, String, i64)>,
    /// `(YYYY-MM-DD, count)` for the last 14 days, oldest first.
    pub per_day: Vec<(String, i64)>,
    pub extraction_failures: i64,
    /// Verifications sent to review because processing failed (not a document's fault).
    pub processing_failures: i64,
}

pub async fn figures(db: &Db, workspace_id: &str) -> Result<Figures, AppError> {
    const DAY: i64 = 86_400_000;
    let counts: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT flow, status, COUNT(*) FROM verifications WHERE workspace_id = $1 GROUP BY flow, status ORDER BY flow, status")
            .bind(workspace_id)
            .fetch_all(db.pool())
            .await?;
    let today = now_ms() / DAY;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT created_at / 86400000 AS day, COUNT(*) FROM verifications WHERE workspace_id = $1 AND created_at >= $2 GROUP BY created_at / 86400000",
    )
    .bind(workspace_id)
    .bind((today - 13) * DAY)
    .fetch_all(db.pool())
    .await?;
    let per_day = (today - 13..=today)
        .map(|d| (crate::dates::rfc3339(d * DAY).chars().take(10).collect(), rows.iter().find(|(day, _)| *day == d).map(|(_, n)| *n).unwrap_or(0)))
        .collect();
    let extraction_failures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents WHERE workspace_id = $1 AND status = 'extraction_failed'")
        .bind(workspace_id)
        .fetch_one(db.pool())
        .await?;
    let processing_failures: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT verification_id) FROM documents WHERE workspace_id = $1 AND status = 'extraction_failed' AND failure_reason IN ($2, $3)",
    )
    .bind(workspace_id)
    .bind(crate::pipeline::FILE_UNAVAILABLE)
    .bind(crate::pipeline::PROCESSING_FAILED)
    .fetch_one(db.pool())
    .await?;
    Ok(Figures { counts, per_day, extraction_failures, processing_failures })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_derive_from_names_and_are_validated() {
        assert_eq!(slug_from_name("Acme Mail Co."), "acme-mail-co");
        assert_eq!(slug_from_name("  Demo  Mailboxes "), "demo-mailboxes");
        assert!(validate_slug("acme-mail").is_ok());
        for bad in ["a", "-acme", "acme-", "ac--me", "Acme", "acme mail", ""] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }
}
