//! API tokens: `att_test_…` / `att_live_…`, shown once, stored as a SHA-256 hash.
//!
//! Tokens carry 256 bits of randomness, so a fast hash is the right store (unlike
//! passwords): lookups stay a single indexed read on every API call.

use crate::{
    access::{Actor, RoleRef, Scope},
    activity::{self, Entry, RequestOrigin},
    error::AppError,
    state::Environment,
    store::{
        ids::{new_id, random_secret},
        now_ms, Db,
    },
    workspaces::service as workspaces,
};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};

/// Whether a member holding `role` may give (and keep) a token with `scope`: a token
/// never does more than the member who made it.
pub fn role_allows(role: &RoleRef, scope: Scope) -> bool {
    role.has(scope.permission())
}

/// The scopes `actor` may put on a token: those their role allows; every scope for the
/// operator (CLI) and the system. A new token has the ones chosen at creation, by default
/// all of these.
pub fn grantable(actor: &Actor) -> Vec<Scope> {
    match actor {
        Actor::User { role, .. } => Scope::ALL.into_iter().filter(|s| role_allows(role, *s)).collect(),
        Actor::Operator | Actor::System => Scope::ALL.to_vec(),
        Actor::Account { .. } | Actor::ApiToken { .. } | Actor::Applicant { .. } => Vec::new(),
    }
}

/// Checks the requested scopes (space or comma separated; `None`: every scope `actor` may
/// grant) against SPEC §3 and the creator's permissions. Returns them in canonical order.
pub fn choose_scopes(requested: Option<&str>, actor: &Actor) -> Result<Vec<Scope>, AppError> {
    let allowed = grantable(actor);
    let Some(requested) = requested else {
        if allowed.is_empty() {
            return Err(AppError::Forbidden);
        }
        return Ok(allowed);
    };
    let words: Vec<&str> = requested.split([' ', ',']).map(str::trim).filter(|w| !w.is_empty()).collect();
    if let Some(unknown) = words.iter().find(|w| w.parse::<Scope>().is_err()) {
        let expected: Vec<&str> = Scope::ALL.iter().map(|s| s.code()).collect();
        return Err(AppError::invalid("scopes", format!("'{unknown}' is not a scope (expected {}).", expected.join(", "))));
    }
    if words.is_empty() {
        return Err(AppError::invalid("scopes", "Choose at least one scope."));
    }
    let chosen: Vec<Scope> = Scope::ALL.into_iter().filter(|s| words.contains(&s.code())).collect();
    let beyond: Vec<String> = chosen.iter().filter(|s| !allowed.contains(s)).map(|s| format!("{s} needs {}", s.permission().code())).collect();
    if !beyond.is_empty() {
        return Err(AppError::Refused(format!("A token cannot do more than its creator: {}, which your role does not have.", beyond.join("; "))));
    }
    Ok(chosen)
}

pub const DEFAULT_EXPIRY_DAYS: i64 = 180;
const MAX_EXPIRY_DAYS: i64 = 3650;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A token just created: the only moment its secret exists outside the client.
#[derive(Debug)]
pub struct CreatedToken {
    pub id: String,
    pub token: String,
    pub expires_at: Option<i64>,
    pub scopes: Vec<Scope>,
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
    pub fn require(&self, scope: Scope) -> Result<(), AppError> {
        if self.scopes.iter().any(|s| s == scope.code()) {
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

/// Creates a token in workspace `slug` with every scope `actor` may grant.
/// `expires_in_days` defaults to 180.
pub async fn create(
    db: &Db,
    environment: Environment,
    workspace_slug: &str,
    name: &str,
    expires_in_days: Option<i64>,
    actor: &Actor,
) -> Result<CreatedToken, AppError> {
    create_with_scopes(db, environment, workspace_slug, name, expires_in_days, None, actor).await
}

/// [`create`] with the scopes chosen (see [`choose_scopes`]): a member cannot give a
/// token a scope their role does not cover (403 with the reason).
pub async fn create_with_scopes(
    db: &Db,
    environment: Environment,
    workspace_slug: &str,
    name: &str,
    expires_in_days: Option<i64>,
    scopes: Option<&str>,
    actor: &Actor,
) -> Result<CreatedToken, AppError> {
    let scopes = choose_scopes(scopes, actor)?;
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
    .bind(scopes.iter().map(|s| s.code()).collect::<Vec<_>>().join(" "))
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
            detail: Some(serde_json::json!({ "name": name, "expires_at": expires_at, "scopes": &scopes })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedToken { id, token, expires_at: Some(expires_at), scopes })
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
    let valid = db.cached(crate::store::cache::Cached::ApiToken, &hash, || lookup(db, &hash)).await?;
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

/// A token row with its creator's e-mail, as [`list`] reads it.
#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    name: String,
    display_prefix: String,
    /// Space-separated.
    scopes: String,
    created_by_kind: String,
    creator_email: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

/// Every token of a workspace, newest first, for the dashboard.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<super::token_page::TokenSummary>, AppError> {
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT t.id, t.name, t.display_prefix, t.scopes, t.created_by_kind, u.email AS creator_email, t.created_at, t.expires_at, t.revoked_at, t.last_used_at \
         FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by_id WHERE t.workspace_id = $1 ORDER BY t.id DESC",
    )
    .bind(workspace_id)
    .fetch_all(db.pool())
    .await?;
    let now = now_ms();
    Ok(rows
        .into_iter()
        .map(|row| super::token_page::TokenSummary {
            id: row.id,
            name: row.name,
            prefix: row.display_prefix,
            scopes: row.scopes.split_whitespace().map(str::to_string).collect(),
            created_by: row.creator_email.unwrap_or(row.created_by_kind),
            created_at: crate::dates::rfc3339(row.created_at),
            expires_at: row.expires_at.map(crate::dates::rfc3339),
            last_used_at: row.last_used_at.map(crate::dates::rfc3339),
            revoked_at: row.revoked_at.map(crate::dates::rfc3339),
            active: row.revoked_at.is_none() && row.expires_at.is_none_or(|e| e > now),
        })
        .collect())
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
    Ok(())
}

/// Revokes the live tokens that `user_id` created in the workspace and that `role` (their
/// new role) no longer covers; all of them when `role` is `None` (they left). Each gets an
/// `api_token.revoked` entry naming the reason. Returns how many; cached identities see
/// the change by the cache's version (store::cache).
pub async fn revoke_created_by(
    tx: &mut sqlx::AnyConnection,
    workspace_id: &str,
    user_id: &str,
    role: Option<&RoleRef>,
    reason: &str,
    actor: &Actor,
) -> Result<usize, AppError> {
    let now = now_ms();
    let rows = sqlx::query(
        "SELECT id, name, scopes FROM api_tokens WHERE workspace_id = $1 AND created_by_kind = 'user' AND created_by_id = $2 \
         AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3) ORDER BY id",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut revoked = 0;
    for row in rows {
        let id: String = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        let scopes: String = row.try_get("scopes")?;
        // A stored scope this build does not know counts as beyond any role.
        let beyond: Vec<&str> = scopes.split_whitespace().filter(|s| s.parse::<Scope>().ok().is_none_or(|s| role.is_none_or(|r| !role_allows(r, s)))).collect();
        if beyond.is_empty() {
            continue;
        }
        let detail = match role {
            Some(_) => serde_json::json!({ "name": name, "reason": reason, "created_by": user_id, "scopes_beyond_role": beyond }),
            None => serde_json::json!({ "name": name, "reason": reason, "created_by": user_id }),
        };
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL").bind(now).bind(&id).execute(&mut *tx).await?;
        activity::record(
            &mut *tx,
            Entry { workspace_id: Some(workspace_id), actor, action: "api_token.revoked", target: Some(&id), detail: Some(detail) },
            &RequestOrigin::default(),
        )
        .await?;
        revoked += 1;
    }
    Ok(revoked)
}

/// How many live tokens each member created in the workspace (user id → count), for the
/// warning on the members page's remove form.
pub async fn live_counts_by_creator(db: &Db, workspace_id: &str) -> Result<std::collections::HashMap<String, i64>, AppError> {
    let rows = sqlx::query(
        "SELECT created_by_id, COUNT(*) AS n FROM api_tokens WHERE workspace_id = $1 AND created_by_kind = 'user' AND created_by_id IS NOT NULL \
         AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) GROUP BY created_by_id",
    )
    .bind(workspace_id)
    .bind(now_ms())
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("created_by_id")?, r.try_get("n")?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Role;

    fn member(role: Role) -> Actor {
        Actor::User { id: "usr_1".into(), workspace_id: "ws_1".into(), role: RoleRef::Builtin(role) }
    }

    #[test]
    fn scopes_are_capped_by_the_creators_role() {
        let developer = member(Role::Developer);
        assert_eq!(choose_scopes(None, &developer).unwrap(), [Scope::VerificationsRead, Scope::VerificationsWrite, Scope::WebhooksManage]);
        for scope in ["documents:read", "decisions:write"] {
            assert!(matches!(choose_scopes(Some(scope), &developer), Err(AppError::Refused(m)) if m.contains(scope)), "{scope}");
        }
        assert_eq!(choose_scopes(Some("webhooks:manage, verifications:read"), &developer).unwrap(), [Scope::VerificationsRead, Scope::WebhooksManage]);
        assert!(matches!(choose_scopes(Some(""), &developer), Err(AppError::Validation(_))));
        assert!(matches!(choose_scopes(Some("admin:all"), &developer), Err(AppError::Validation(_))));
        assert_eq!(choose_scopes(None, &Actor::Operator).unwrap(), Scope::ALL);
        assert_eq!(
            choose_scopes(None, &member(Role::Reviewer)).unwrap(),
            [Scope::VerificationsRead, Scope::VerificationsWrite, Scope::DocumentsRead, Scope::DecisionsWrite]
        );
    }
}
