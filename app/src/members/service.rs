//! Users and memberships: creation, roles, removal, email corrections, MFA resets.

use crate::{
    access::{Actor, Role, RoleRef},
    activity::{self, Entry, RequestOrigin},
    auth::password,
    error::AppError,
    store::{ids::new_id, now_ms, Db},
    workspaces::service as workspaces,
};
use sqlx::Row;

/// Trims and lower-cases an email; lockouts and uniqueness use this form.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn validate_email(email: &str) -> Result<(), AppError> {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid("email", "The email must be a valid email address."))
    }
}

/// Length and strength: see [`crate::auth::password::check_strength`].
pub fn validate_password(password: &str) -> Result<(), AppError> {
    crate::auth::password::check_strength(password, &[])
}

/// Creates the user (or finds the existing one with that email, setting the password
/// when given) and makes them a member of the workspace `slug` with `role`.
/// Returns the user id.
pub async fn add_member(
    db: &Db,
    email: &str,
    password: Option<&str>,
    workspace_slug: &str,
    role: Role,
    actor: &Actor,
) -> Result<String, AppError> {
    add_member_with_role_code(db, email, password, workspace_slug, role.code(), actor).await
}

/// [`add_member`] with a stored role value: a built-in code or a custom role's id.
pub async fn add_member_with_role_code(
    db: &Db,
    email: &str,
    password: Option<&str>,
    workspace_slug: &str,
    role_code: &str,
    actor: &Actor,
) -> Result<String, AppError> {
    let email = normalize_email(email);
    validate_email(&email)?;
    if let Some(password) = password {
        validate_password(password)?;
    }
    let workspace = workspaces::find_by_slug(db, workspace_slug).await?.ok_or_else(|| {
        AppError::invalid("workspace", format!("No workspace has the slug '{workspace_slug}'."))
    })?;
    let password_hash = match password {
        Some(p) => Some(password::hash(p.to_string()).await?),
        None => None,
    };

    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let existing = sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
    let user_id = match existing {
        Some(row) => {
            let id: String = row.try_get("id")?;
            if let Some(hash) = &password_hash {
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(hash)
                    .bind(now)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
            id
        }
        None => {
            let id = new_id("usr");
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(&id)
            .bind(&email)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    let updated = sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
        .bind(role_code)
        .bind(&workspace.id)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&workspace.id)
            .bind(&user_id)
            .bind(role_code)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    activity::record(
        &mut *tx,
        Entry {
            workspace_id: Some(&workspace.id),
            actor,
            action: "member.added",
            target: Some(&user_id),
            detail: Some(serde_json::json!({ "email": email, "role": role_code })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
        assert!(validate_email("ada@example.com").is_ok());
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("correct horse battery").is_ok());
    }
}

/// A member as the members page lists them.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<super::MemberView>, AppError> {
    let rows = sqlx::query(
        "SELECT u.id, u.email, u.totp_enabled_at, m.role, m.created_at, l.locked_until \
         FROM memberships m JOIN users u ON u.id = m.user_id LEFT JOIN login_lockouts l ON l.email = u.email \
         WHERE m.workspace_id = $1 ORDER BY u.email",
    )
    .bind(workspace_id)
    .fetch_all(db.pool())
    .await?;
    let now = now_ms();
    rows.iter()
        .map(|r| {
            let locked: Option<i64> = r.try_get("locked_until")?;
            Ok(super::MemberView {
                user_id: r.try_get("id")?,
                email: r.try_get("email")?,
                role: r.try_get("role")?,
                mfa: if r.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some() { "authenticator app".into() } else { "email code".into() },
                locked_until: locked.filter(|l| *l > now).map(crate::verifications::rfc3339),
                joined: crate::verifications::rfc3339(r.try_get("created_at")?),
            })
        })
        .collect()
}

async fn member_email(db: &Db, workspace_id: &str, user_id: &str) -> Result<(String, RoleRef), AppError> {
    let row = sqlx::query("SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.user_id = $2")
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    let role: String = row.try_get("role")?;
    Ok((row.try_get("email")?, crate::access::roles::resolve(db, workspace_id, &role).await?))
}

async fn log(db: &Db, workspace_id: &str, actor: &Actor, action: &str, target: &str, detail: serde_json::Value) -> Result<(), AppError> {
    activity::record(db.pool(), Entry { workspace_id: Some(workspace_id), actor, action, target: Some(target), detail: Some(detail) }, &RequestOrigin::default()).await?;
    Ok(())
}

/// Only owners touch owners: an admin (or a custom role with members.manage) may not
/// grant, change or remove the owner role. Operators may.
fn ensure_may_manage(actor: &Actor, target_role: &RoleRef, new_role: Option<&RoleRef>) -> Result<(), AppError> {
    let is_owner = |r: &RoleRef| r.builtin() == Some(Role::Owner);
    if let Actor::User { role, .. } = actor {
        if !is_owner(role) && (is_owner(target_role) || new_role.is_some_and(is_owner)) {
            return Err(AppError::Forbidden);
        }
    }
    Ok(())
}

async fn owners(db: &Db, workspace_id: &str) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'").bind(workspace_id).fetch_one(db.pool()).await?)
}

pub async fn change_role(db: &Db, workspace_id: &str, user_id: &str, role: RoleRef, actor: &Actor) -> Result<(), AppError> {
    let (email, current) = member_email(db, workspace_id, user_id).await?;
    ensure_may_manage(actor, &current, Some(&role))?;
    let owner = Some(Role::Owner);
    if current.builtin() == owner && role.builtin() != owner && owners(db, workspace_id).await? <= 1 {
        return Err(AppError::BadRequest("A workspace needs at least one owner.".into()));
    }
    sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3").bind(role.code()).bind(workspace_id).bind(user_id).execute(db.pool()).await?;
    log(db, workspace_id, actor, "member.role_changed", user_id, serde_json::json!({ "email": email, "from": current.label(), "to": role.label() })).await
}

pub async fn remove(db: &Db, workspace_id: &str, user_id: &str, actor: &Actor) -> Result<(), AppError> {
    let (email, current) = member_email(db, workspace_id, user_id).await?;
    ensure_may_manage(actor, &current, None)?;
    if current.builtin() == Some(Role::Owner) && owners(db, workspace_id).await? <= 1 {
        return Err(AppError::BadRequest("A workspace needs at least one owner.".into()));
    }
    sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2").bind(workspace_id).bind(user_id).execute(db.pool()).await?;
    log(db, workspace_id, actor, "member.removed", user_id, serde_json::json!({ "email": email })).await
}

pub async fn unlock(db: &Db, workspace_id: &str, user_id: &str, actor: &Actor) -> Result<(), AppError> {
    let (email, _) = member_email(db, workspace_id, user_id).await?;
    crate::auth::lockout::unlock(db, &email).await?;
    log(db, workspace_id, actor, "member.unlocked", user_id, serde_json::json!({ "email": email })).await
}

/// Clears the member's authenticator and recovery codes (next sign-in uses email codes),
/// ends their sessions, and tells them by email.
pub async fn reset_mfa(db: &Db, mailer: &dyn crate::mail::Mailer, workspace_id: Option<&str>, email: &str, actor: &Actor) -> Result<(), AppError> {
    let email = normalize_email(email);
    let user_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(db.pool()).await?.ok_or(AppError::NotFound)?;
    let mut tx = db.begin_write().await?;
    crate::auth::totp::clear(&mut tx, &user_id).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(&user_id).execute(&mut *tx).await?;
    activity::record(&mut *tx, Entry { workspace_id, actor, action: "member.mfa_reset", target: Some(&user_id), detail: Some(serde_json::json!({ "email": email })) }, &RequestOrigin::default()).await?;
    tx.commit().await?;
    mailer
        .send(crate::mail::Email {
            to: email,
            subject: "Your Attest sign-in settings were reset".into(),
            body: "An administrator reset your multi-factor authentication. Your authenticator app and recovery codes no longer work; \
                   your next sign-in sends a code to this email address, and you can set up an authenticator app again under Account security.\n\n\
                   If you did not ask for this, contact your administrator.\n"
                .into(),
        })
        .await
}

/// Unlocks `email` (operator or admin); records it.
pub async fn unlock_email(db: &Db, email: &str, actor: &Actor) -> Result<bool, AppError> {
    let email = normalize_email(email);
    let was_locked = crate::auth::lockout::unlock(db, &email).await?;
    activity::record(db.pool(), Entry { workspace_id: None, actor, action: "member.unlocked", target: None, detail: Some(serde_json::json!({ "email": email })) }, &RequestOrigin::default()).await?;
    Ok(was_locked)
}

pub async fn correct_email(db: &Db, workspace_id: &str, user_id: &str, new_email: &str, actor: &Actor) -> Result<(), AppError> {
    let (old, current) = member_email(db, workspace_id, user_id).await?;
    ensure_may_manage(actor, &current, None)?;
    let new_email = normalize_email(new_email);
    validate_email(&new_email)?;
    let updated = sqlx::query("UPDATE users SET email = $1, updated_at = $2 WHERE id = $3").bind(&new_email).bind(now_ms()).bind(user_id).execute(db.pool()).await;
    match updated {
        Err(e) if crate::store::is_unique_violation(&e) => return Err(AppError::invalid("email", "Another account already uses this email.")),
        other => other?,
    };
    log(db, workspace_id, actor, "member.email_changed", user_id, serde_json::json!({ "from": old, "to": new_email })).await
}

const INVITE_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Invites `email` with `role`; the emailed link lets them set their password.
pub async fn invite(db: &Db, mailer: &dyn crate::mail::Mailer, public_url: &str, workspace_id: &str, workspace_name: &str, email: &str, role: RoleRef, actor: &Actor) -> Result<(), AppError> {
    let email = normalize_email(email);
    validate_email(&email)?;
    ensure_may_manage(actor, &RoleRef::Builtin(Role::Viewer), Some(&role))?;
    let token = crate::store::ids::random_secret(32);
    let id = new_id("inv");
    let now = now_ms();
    let (kind, actor_id) = actor.kind_and_id();
    sqlx::query("INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&id)
        .bind(workspace_id)
        .bind(&email)
        .bind(role.code())
        .bind(crate::access::tokens::hash_token(&token))
        .bind(actor_id.map(str::to_string).unwrap_or_else(|| kind.to_string()))
        .bind(now + INVITE_TTL_MS)
        .bind(now)
        .execute(db.pool())
        .await?;
    log(db, workspace_id, actor, "member.invited", &id, serde_json::json!({ "email": email, "role": role.label() })).await?;
    mailer
        .send(crate::mail::Email {
            to: email,
            subject: format!("You are invited to {workspace_name} on Attest"),
            body: format!("You have been invited to join {workspace_name} on Attest as {}.", role.label()) + &format!("\n\nSet your password here (the link works for 7 days):\n{public_url}/invite/{token}\n"),
        })
        .await
}

/// Accepts an invitation: sets the password (for a new account) and adds the membership.
pub async fn accept_invitation(db: &Db, token: &str, password: &str) -> Result<String, AppError> {
    let row = sqlx::query("SELECT i.id, i.email, i.role, w.slug FROM invitations i JOIN workspaces w ON w.id = i.workspace_id WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.expires_at > $2")
        .bind(crate::access::tokens::hash_token(token))
        .bind(now_ms())
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| AppError::BadRequest("This invitation has expired or was already used. Ask for a new one.".into()))?;
    let email: String = row.try_get("email")?;
    let role: String = row.try_get("role")?;
    let slug: String = row.try_get("slug")?;
    let id: String = row.try_get("id")?;
    let has_password: Option<Option<String>> = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1").bind(&email).fetch_optional(db.pool()).await?;
    let set_password = !matches!(has_password, Some(Some(_)));
    add_member_with_role_code(db, &email, set_password.then_some(password), &slug, &role, &Actor::System).await?;
    sqlx::query("UPDATE invitations SET accepted_at = $1 WHERE id = $2").bind(now_ms()).bind(&id).execute(db.pool()).await?;
    Ok(email)
}
