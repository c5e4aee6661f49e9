//! API tokens: `att_test_…` / `att_live_…`, shown once, stored as a SHA-256 hash.
//!
//! Tokens carry 256 bits of randomness, so a fast hash is the right store (unlike
//! passwords): lookups stay a single indexed read on every API call.

use crate::{
    access::Actor,
    activity::{self, Entry, RequestOrigin},
    error::AppError,
    state::Environment,
    store::{ids::{new_id, random_secret}, now_ms, Db},
    workspaces::service as workspaces,
};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};

/// Every scope of SPEC §3; a new token has all of them unless narrowed.
pub const ALL_SCOPES: [&str; 5] =
    ["verifications:read", "verifications:write", "documents:read", "decisions:write", "webhooks:manage"];

pub const DEFAULT_EXPIRY_DAYS: i64 = 180;
const MAX_EXPIRY_DAYS: i64 = 3650;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A token just created: the only moment its secret exists outside the client.
#[derive(Debug)]
pub struct CreatedToken {
    pub id: String,
    pub token: String,
    pub expires_at: Option<i64>,
}

/// The workspace a valid token acts for.
#[derive(Debug, Clone)]
pub struct TokenIdentity {
    pub token_id: String,
    pub workspace_id: String,
    pub scopes: Vec<String>,
    /// The workspace's API budget per minute, shared by all its tokens.
    pub rate_limit_per_minute: i64,
    pub last_used_at: Option<i64>,
}

impl TokenIdentity {
    /// 403 unless the token carries `scope`.
    pub fn require(&self, scope: &str) -> Result<(), AppError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::ApiToken { id: self.token_id.clone(), workspace_id: self.workspace_id.clone() }
    }
}

/// Records that a token was used, at most once a minute per token (a write per API
/// call would halve SQLite's throughput for a field shown to the minute).
pub async fn touch_last_used(db: &Db, identity: &TokenIdentity) {
    let now = now_ms();
    if identity.last_used_at.is_some_and(|last| now - last < 60_000) {
        return;
    }
    let result = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(now)
        .bind(&identity.token_id)
        .bind(now - 60_000)
        .execute(db.pool())
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "recording token use failed");
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn prefix_for(environment: Environment) -> &'static str {
    match environment {
        Environment::Sandbox => "att_test_",
        Environment::Production => "att_live_",
    }
}

/// Creates a token in workspace `slug`. `expires_in_days` defaults to 180.
pub async fn create(
    db: &Db,
    environment: Environment,
    workspace_slug: &str,
    name: &str,
    expires_in_days: Option<i64>,
    actor: &Actor,
) -> Result<CreatedToken, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name", "The name must be 1–100 characters."));
    }
    let days = expires_in_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        return Err(AppError::invalid("expires_in_days", format!("The expiry must be between 1 and {MAX_EXPIRY_DAYS} days.")));
    }
    let workspace = workspaces::find_by_slug(db, workspace_slug)
        .await?
        .ok_or_else(|| AppError::invalid("workspace", format!("No workspace has the slug '{workspace_slug}'.")))?;

    let token = format!("{}{}", prefix_for(environment), random_secret(32));
    let id = new_id("tok");
    let now = now_ms();
    let expires_at = now + days * DAY_MS;
    let (creator_kind, creator_id) = actor.kind_and_id();

    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO api_tokens (id, workspace_id, name, display_prefix, token_hash, scopes, created_by_kind, created_by_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(&workspace.id)
    .bind(name)
    .bind(token[..13].to_string())
    .bind(hash_token(&token))
    .bind(ALL_SCOPES.join(" "))
    .bind(creator_kind)
    .bind(creator_id.map(str::to_string))
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    activity::record(
        &mut *tx,
        Entry {
            workspace_id: Some(&workspace.id),
            actor,
            action: "api_token.created",
            target: Some(&id),
            detail: Some(serde_json::json!({ "name": name, "expires_at": expires_at })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedToken { id, token, expires_at: Some(expires_at) })
}

/// The identity behind a bearer token, or 401 (unknown, revoked or expired).
///
/// Valid tokens are kept by [`Db::cached`]: revoking a token or changing a rate limit
/// bumps the epoch on commit, so every process sharing the database asks again at once.
/// Unknown tokens are never cached (the lookup fails), so guessing cannot fill it, and
/// expiry is checked on every call.
pub async fn authenticate(db: &Db, bearer: &str) -> Result<TokenIdentity, AppError> {
    if !(bearer.starts_with("att_test_") || bearer.starts_with("att_live_")) || bearer.len() > 200 {
        return Err(AppError::Unauthenticated);
    }
    let hash = hash_token(bearer);
    let valid = db.cached(format!("api_token/{hash}"), || lookup(db, &hash)).await?;
    let now = now_ms();
    if valid.expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::Unauthenticated);
    }
    let mut identity = valid.identity.clone();
    // The caller records a use when the last one is a minute old; the cached copy then
    // remembers this call, so the next calls do not record it again.
    identity.last_used_at = Some(valid.last_used_at.load(Ordering::Relaxed)).filter(|at| *at > 0);
    if identity.last_used_at.is_none_or(|last| now - last >= 60_000) {
        valid.last_used_at.store(now, Ordering::Relaxed);
    }
    Ok(identity)
}

/// A valid token as read from the database.
#[derive(Debug)]
struct ValidToken {
    identity: TokenIdentity,
    expires_at: Option<i64>,
    /// Milliseconds, 0 for never.
    last_used_at: AtomicI64,
}

async fn lookup(db: &Db, hash: &str) -> Result<Arc<ValidToken>, AppError> {
    let row = sqlx::query(
        "SELECT t.id, t.workspace_id, t.scopes, t.last_used_at, t.expires_at, w.rate_limit_per_minute FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)",
    )
    .bind(hash)
    .bind(now_ms())
    .fetch_optional(db.pool())
    .await?
    .ok_or(AppError::Unauthenticated)?;
    let scopes: String = row.try_get("scopes")?;
    let last_used_at: Option<i64> = row.try_get("last_used_at")?;
    Ok(Arc::new(ValidToken {
        identity: TokenIdentity {
            token_id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            scopes: scopes.split_whitespace().map(str::to_string).collect(),
            rate_limit_per_minute: row.try_get("rate_limit_per_minute")?,
            last_used_at,
        },
        expires_at: row.try_get("expires_at")?,
        last_used_at: AtomicI64::new(last_used_at.unwrap_or(0)),
    }))
}

/// Every token of a workspace, newest first, for the dashboard.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<super::token_page::TokenSummary>, AppError> {
    let rows = sqlx::query(
        "SELECT t.id, t.name, t.display_prefix, t.scopes, t.created_by_kind, u.email AS creator_email, t.created_at, t.expires_at, t.revoked_at, t.last_used_at \
         FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by_id WHERE t.workspace_id = $1 ORDER BY t.id DESC",
    )
    .bind(workspace_id)
    .fetch_all(db.pool())
    .await?;
    let now = now_ms();
    rows.iter()
        .map(|row| {
            let expires_at: Option<i64> = row.try_get("expires_at")?;
            let revoked_at: Option<i64> = row.try_get("revoked_at")?;
            let kind: String = row.try_get("created_by_kind")?;
            let email: Option<String> = row.try_get("creator_email")?;
            let scopes: String = row.try_get("scopes")?;
            Ok(super::token_page::TokenSummary {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                prefix: row.try_get("display_prefix")?,
                scopes: scopes.split_whitespace().map(str::to_string).collect(),
                created_by: email.unwrap_or(kind),
                created_at: crate::verifications::rfc3339(row.try_get("created_at")?),
                expires_at: expires_at.map(crate::verifications::rfc3339),
                last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(crate::verifications::rfc3339),
                revoked_at: revoked_at.map(crate::verifications::rfc3339),
                active: revoked_at.is_none() && expires_at.is_none_or(|e| e > now),
            })
        })
        .collect()
}

/// Revokes a token of the workspace; it gets 401 at once on every server process.
pub async fn revoke(db: &Db, workspace_id: &str, token_id: &str, actor: &Actor) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let updated = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND workspace_id = $3 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(token_id)
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    activity::record(
        &mut *tx,
        Entry { workspace_id: Some(workspace_id), actor, action: "api_token.revoked", target: Some(token_id), detail: None },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    db.bump_epoch();
    Ok(())
}
