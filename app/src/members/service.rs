//! Users and memberships: creation, roles, removal, email corrections, MFA resets.

use crate::{
    access::{tokens, Actor, Role, RoleRef},
    activity::{self, Entry, RequestOrigin},
    auth::password,
    error::AppError,
    journal,
    store::{ids::new_id, now_ms, Db, Engine},
    workspaces::service as workspaces,
};
use sqlx::Row;

/// Trims and lower-cases an email; lockouts and uniqueness use this form.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn validate_email(email: &str) -> Result<(), AppError> {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
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
pub async fn add_member(db: &Db, email: &str, password: Option<&str>, workspace_slug: &str, role: Role, actor: &Actor) -> Result<String, AppError> {
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
    let workspace = workspaces::find_by_slug(db, workspace_slug)
        .await?
        .ok_or_else(|| AppError::invalid("workspace", format!("No workspace has the slug '{workspace_slug}'.")))?;
    let password_hash = match password {
        Some(p) => Some(password::hash(p.to_string()).await?),
        None => None,
    };

    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let existing = sqlx::query("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(&mut *tx).await?;
    let user_id = match existing {
        Some(row) => {
            let id: String = row.try_get("id")?;
            if let Some(hash) = &password_hash {
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3").bind(hash).bind(now).bind(&id).execute(&mut *tx).await?;
            }
            id
        }
        None => {
            let id = new_id("usr");
            sqlx::query("INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
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

/// A membership row joined with its user and sign-in lock, as [`list`] reads it.
#[derive(sqlx::FromRow)]
struct MemberRow {
    id: String,
    email: String,
    totp_enabled_at: Option<i64>,
    mfa_locked_at: Option<i64>,
    role: String,
    created_at: i64,
    locked_until: Option<i64>,
}

/// A member as the members page lists them.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<super::MemberView>, AppError> {
    let rows: Vec<MemberRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.totp_enabled_at, u.mfa_locked_at, m.role, m.created_at, l.locked_until \
         FROM memberships m JOIN users u ON u.id = m.user_id LEFT JOIN login_lockouts l ON l.email = u.email \
         WHERE m.workspace_id = $1 ORDER BY u.email",
    )
    .bind(workspace_id)
    .fetch_all(db.pool())
    .await?;
    let now = now_ms();
    let tokens = tokens::live_counts_by_creator(db, workspace_id).await?;
    Ok(rows
        .into_iter()
        .map(|r| super::MemberView {
            api_tokens: tokens.get(&r.id).copied().unwrap_or(0),
            user_id: r.id,
            email: r.email,
            role: r.role,
            mfa: if r.totp_enabled_at.is_some() { "authenticator app".into() } else { "email code".into() },
            locked_until: r.locked_until.filter(|l| *l > now).map(crate::dates::rfc3339),
            mfa_locked: r.mfa_locked_at.is_some(),
            joined: crate::dates::rfc3339(r.created_at),
        })
        .collect())
}

/// A membership change's write transaction. On PostgreSQL it also locks the workspace
/// row, so concurrent changes to one workspace's memberships (two owners demoting each
/// other) run one after the other and the owner count read inside stays true until the
/// commit; SQLite's `BEGIN IMMEDIATE` already serializes writers.
async fn begin_membership_change(db: &Db, workspace_id: &str) -> Result<Tx, AppError> {
    let mut tx = db.begin_write().await?;
    if db.engine() == Engine::Postgres {
        sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR UPDATE").bind(workspace_id).fetch_optional(&mut *tx).await?;
    }
    Ok(tx)
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The member's email and role, read in `conn` (a membership change's transaction).
async fn member_in(conn: &mut sqlx::AnyConnection, workspace_id: &str, user_id: &str) -> Result<(String, RoleRef), AppError> {
    let row = sqlx::query(
        "SELECT u.email, m.role, cr.name AS custom_name, cr.permissions AS custom_permissions \
         FROM memberships m JOIN users u ON u.id = m.user_id LEFT JOIN custom_roles cr ON cr.id = m.role \
         WHERE m.workspace_id = $1 AND m.user_id = $2",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((row.try_get("email")?, crate::access::roles::from_row(&row)?))
}

async fn member_email(db: &Db, workspace_id: &str, user_id: &str) -> Result<(String, RoleRef), AppError> {
    let mut conn = db.pool().acquire().await?;
    member_in(&mut conn, workspace_id, user_id).await
}

fn is_owner(role: &RoleRef) -> bool {
    role.builtin() == Some(Role::Owner)
}

/// Only owners touch owners: an admin (or a custom role with members.manage) may not
/// grant, change or remove the owner role. Operators may.
fn ensure_may_manage(actor: &Actor, target_role: &RoleRef, new_role: Option<&RoleRef>) -> Result<(), AppError> {
    if let Actor::User { role, .. } = actor {
        if !is_owner(role) && (is_owner(target_role) || new_role.is_some_and(is_owner)) {
            return Err(AppError::Refused("Only an owner can change an owner or make someone an owner.".into()));
        }
    }
    Ok(())
}

/// Users are global, so a change to the account itself (sign-in email, MFA reset,
/// unlock) reaches every workspace the user belongs to. A member may make it only if they
/// may manage the user in each of them: `members.manage` there, and owner there when the
/// user is an owner there. The operator (CLI) and the system may always.
pub async fn ensure_may_manage_account(db: &Db, actor: &Actor, user_id: &str) -> Result<(), AppError> {
    let Actor::User { id: actor_id, .. } = actor else {
        return match actor {
            Actor::Operator | Actor::System => Ok(()),
            _ => Err(AppError::Forbidden),
        };
    };
    let rows = sqlx::query(
        "SELECT t.role AS target_role, a.role, cr.name AS custom_name, cr.permissions AS custom_permissions \
         FROM memberships t LEFT JOIN memberships a ON a.workspace_id = t.workspace_id AND a.user_id = $2 \
         LEFT JOIN custom_roles cr ON cr.id = a.role WHERE t.user_id = $1",
    )
    .bind(user_id)
    .bind(actor_id)
    .fetch_all(db.pool())
    .await?;
    for row in &rows {
        let target_owner = row.try_get::<String, _>("target_role")? == Role::Owner.code();
        let actor_role = match row.try_get::<Option<String>, _>("role")? {
            Some(_) => Some(crate::access::roles::from_row(row)?),
            None => None,
        };
        match actor_role {
            Some(role) if role.has(crate::access::Permission::MembersManage) && (!target_owner || is_owner(&role)) => {}
            Some(role) if role.has(crate::access::Permission::MembersManage) => {
                return Err(AppError::Refused(
                    "This member is an owner of a workspace, and only an owner there can change their account (email, MFA, lock). Ask that owner.".into(),
                ));
            }
            _ => {
                return Err(AppError::Refused(
                    "This member's account is shared with another workspace that you cannot manage, so its email, MFA and lock can only be changed by someone who manages them everywhere (or by the operator). Ask an owner of their other workspace.".into(),
                ));
            }
        }
    }
    Ok(())
}

async fn owners_in(conn: &mut sqlx::AnyConnection, workspace_id: &str) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'").bind(workspace_id).fetch_one(&mut *conn).await?)
}

const LAST_OWNER: &str = "A workspace needs at least one owner.";

/// Changes a member's role. The owner count is read and the change made in one
/// transaction; the member's API tokens whose scopes the new role does not cover are
/// revoked (SPEC §3: a token never does more than its creator).
pub async fn change_role(db: &Db, workspace_id: &str, user_id: &str, role: RoleRef, actor: &Actor) -> Result<(), AppError> {
    let mut tx = begin_membership_change(db, workspace_id).await?;
    let (email, current) = member_in(&mut tx, workspace_id, user_id).await?;
    ensure_may_manage(actor, &current, Some(&role))?;
    if is_owner(&current) && !is_owner(&role) && owners_in(&mut tx, workspace_id).await? <= 1 {
        return Err(AppError::BadRequest(LAST_OWNER.into()));
    }
    sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
        .bind(role.code())
        .bind(workspace_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let detail = serde_json::json!({ "email": email, "from": current.label(), "to": role.label() });
    activity::record(
        &mut *tx,
        Entry { workspace_id: Some(workspace_id), actor, action: "member.role_changed", target: Some(user_id), detail: Some(detail) },
        &RequestOrigin::default(),
    )
    .await?;
    tokens::revoke_created_by(&mut tx, workspace_id, user_id, Some(&role), "its creator's new role does not cover its scopes", actor).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a member; every live API token they created in the workspace is revoked with
/// them (the members page warns first).
pub async fn remove(db: &Db, workspace_id: &str, user_id: &str, actor: &Actor) -> Result<(), AppError> {
    let mut tx = begin_membership_change(db, workspace_id).await?;
    let (email, current) = member_in(&mut tx, workspace_id, user_id).await?;
    ensure_may_manage(actor, &current, None)?;
    if is_owner(&current) && owners_in(&mut tx, workspace_id).await? <= 1 {
        return Err(AppError::BadRequest(LAST_OWNER.into()));
    }
    sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2").bind(workspace_id).bind(user_id).execute(&mut *tx).await?;
    let revoked = tokens::revoke_created_by(&mut tx, workspace_id, user_id, None, "its creator left the workspace", actor).await?;
    let detail = serde_json::json!({ "email": email, "tokens_revoked": revoked });
    activity::record(
        &mut *tx,
        Entry { workspace_id: Some(workspace_id), actor, action: "member.removed", target: Some(user_id), detail: Some(detail) },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Lifts the sign-in lock of a member (an account-wide change: see
/// [`ensure_may_manage_account`]).
pub async fn unlock(db: &Db, workspace_id: &str, user_id: &str, actor: &Actor) -> Result<(), AppError> {
    let (email, _) = member_email(db, workspace_id, user_id).await?;
    ensure_may_manage_account(db, actor, user_id).await?;
    let mut tx = db.begin_write().await?;
    crate::auth::lockout::unlock_in(&mut tx, &email).await?;
    journal::note(&mut tx, workspace_id, actor, "member.unlocked", user_id, Some(serde_json::json!({ "email": email }))).await?;
    tx.commit().await?;
    Ok(())
}

/// Clears the member's authenticator and recovery codes (next sign-in uses email codes),
/// ends their sessions, and tells them by email. An account-wide change: a member may
/// reset only someone they may manage in every workspace of theirs, owners only by an
/// owner ([`ensure_may_manage_account`]); the operator always.
pub async fn reset_mfa(db: &Db, mailer: &dyn crate::mail::Mailer, workspace_id: Option<&str>, email: &str, actor: &Actor) -> Result<(), AppError> {
    let email = normalize_email(email);
    let user_id: String =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(db.pool()).await?.ok_or(AppError::NotFound)?;
    ensure_may_manage_account(db, actor, &user_id).await?;
    let mut tx = db.begin_write().await?;
    crate::auth::totp::clear(&mut tx, &user_id).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(&user_id).execute(&mut *tx).await?;
    activity::record(
        &mut *tx,
        Entry { workspace_id, actor, action: "member.mfa_reset", target: Some(&user_id), detail: Some(serde_json::json!({ "email": email })) },
        &RequestOrigin::default(),
    )
    .await?;
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
    let mut tx = db.begin_write().await?;
    let was_locked = crate::auth::lockout::unlock_in(&mut tx, &email).await?;
    activity::record(
        &mut *tx,
        Entry { workspace_id: None, actor, action: "member.unlocked", target: None, detail: Some(serde_json::json!({ "email": email })) },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(was_locked)
}

const EMAIL_CHANGE_TTL_MS: i64 = 2 * 24 * 60 * 60 * 1000;

/// An administrator's correction of a member's sign-in email. Nothing changes yet: a
/// confirmation link goes to the new address (the change happens when it is used, see
/// [`confirm_email_change`]) and a notice to the current one. The answer is the same
/// whether or not another account uses the new address, so it reveals no account of
/// another workspace; the confirmation then fails cleanly if the address is taken.
#[allow(clippy::too_many_arguments)]
pub async fn request_email_change(
    db: &Db,
    mailer: &dyn crate::mail::Mailer,
    public_url: &str,
    workspace_id: &str,
    workspace_name: &str,
    user_id: &str,
    new_email: &str,
    actor: &Actor,
) -> Result<(), AppError> {
    let (old, current) = member_email(db, workspace_id, user_id).await?;
    ensure_may_manage(actor, &current, None)?;
    ensure_may_manage_account(db, actor, user_id).await?;
    let new_email = normalize_email(new_email);
    validate_email(&new_email)?;
    if new_email == old {
        return Err(AppError::invalid("email", "That already is their sign-in email."));
    }
    let token = crate::store::ids::random_secret(32);
    let id = new_id("emc");
    let now = now_ms();
    let (kind, actor_id) = actor.kind_and_id();
    let mut tx = db.begin_write().await?;
    // One pending change per user: a new request voids the earlier link.
    sqlx::query("DELETE FROM email_changes WHERE user_id = $1 AND confirmed_at IS NULL").bind(user_id).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO email_changes (id, user_id, workspace_id, new_email, token_hash, requested_by, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&id)
        .bind(user_id)
        .bind(workspace_id)
        .bind(&new_email)
        .bind(crate::access::tokens::hash_token(&token))
        .bind(actor_id.map(str::to_string).unwrap_or_else(|| kind.to_string()))
        .bind(now + EMAIL_CHANGE_TTL_MS)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    activity::record(
        &mut *tx,
        Entry {
            workspace_id: Some(workspace_id),
            actor,
            action: "member.email_change_requested",
            target: Some(user_id),
            detail: Some(serde_json::json!({ "from": old, "to": new_email })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    mailer
        .send(crate::mail::Email {
            to: new_email.clone(),
            subject: "Confirm your new Attest sign-in email".into(),
            body: format!(
                "An administrator of {workspace_name} asked to make this address the email you sign in to Attest with.\n\n\
                 Confirm it here (the link works for 48 hours):\n{public_url}/confirm-email/{token}\n\n\
                 Until then you keep signing in with your current address. If you did not expect this, ignore this email.\n"
            ),
        })
        .await?;
    mailer
        .send(crate::mail::Email {
            to: old,
            subject: "Your Attest sign-in email is about to change".into(),
            body: format!(
                "An administrator of {workspace_name} asked to change the email you sign in to Attest with to {new_email}.\n\n\
                 Nothing changes until the new address confirms it. If you did not expect this, contact an owner of {workspace_name}.\n"
            ),
        })
        .await
}

/// Uses the link of an email change: the account's sign-in email becomes the new
/// address. Returns it.
pub async fn confirm_email_change(db: &Db, token: &str) -> Result<String, AppError> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let row = sqlx::query("SELECT id, user_id, workspace_id, new_email FROM email_changes WHERE token_hash = $1 AND confirmed_at IS NULL AND expires_at > $2")
        .bind(crate::access::tokens::hash_token(token))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::BadRequest("This link has expired or was already used. Ask your administrator to send a new one.".into()))?;
    let id: String = row.try_get("id")?;
    let user_id: String = row.try_get("user_id")?;
    let workspace_id: Option<String> = row.try_get("workspace_id")?;
    let new_email: String = row.try_get("new_email")?;
    let taken = || AppError::BadRequest("Another Attest account already uses this address, so the change was not made. Ask your administrator.".into());
    let old: String = sqlx::query_scalar("SELECT email FROM users WHERE id = $1").bind(&user_id).fetch_one(&mut *tx).await?;
    let other: Option<String> =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1 AND id <> $2").bind(&new_email).bind(&user_id).fetch_optional(&mut *tx).await?;
    if other.is_some() {
        return Err(taken());
    }
    match sqlx::query("UPDATE users SET email = $1, updated_at = $2 WHERE id = $3").bind(&new_email).bind(now).bind(&user_id).execute(&mut *tx).await {
        Err(e) if crate::store::unique_violation(&e) == Some(crate::store::Unique::UserEmail) => return Err(taken()),
        other => other?,
    };
    sqlx::query("UPDATE email_changes SET confirmed_at = $1 WHERE id = $2").bind(now).bind(&id).execute(&mut *tx).await?;
    activity::record(
        &mut *tx,
        Entry {
            workspace_id: workspace_id.as_deref(),
            actor: &Actor::Account { id: user_id.clone() },
            action: "member.email_changed",
            target: Some(&user_id),
            detail: Some(serde_json::json!({ "from": old, "to": new_email })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(new_email)
}

const INVITE_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Invites `email` with `role`; the emailed link lets them set their password.
pub async fn invite(
    db: &Db,
    mailer: &dyn crate::mail::Mailer,
    public_url: &str,
    workspace: &crate::workspaces::service::Workspace,
    email: &str,
    role: RoleRef,
    actor: &Actor,
) -> Result<(), AppError> {
    let (workspace_id, workspace_name) = (workspace.id.as_str(), workspace.name.as_str());
    let email = normalize_email(email);
    validate_email(&email)?;
    ensure_may_manage(actor, &RoleRef::Builtin(Role::Viewer), Some(&role))?;
    let token = crate::store::ids::random_secret(32);
    let id = new_id("inv");
    let now = now_ms();
    let (kind, actor_id) = actor.kind_and_id();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(&email)
    .bind(role.code())
    .bind(crate::access::tokens::hash_token(&token))
    .bind(actor_id.map(str::to_string).unwrap_or_else(|| kind.to_string()))
    .bind(now + INVITE_TTL_MS)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    journal::note(&mut tx, workspace_id, actor, "member.invited", &id, Some(serde_json::json!({ "email": email, "role": role.label() }))).await?;
    tx.commit().await?;
    mailer
        .send(crate::mail::Email {
            to: email,
            subject: format!("You are invited to {workspace_name} on Attest"),
            body: format!("You have been invited to join {workspace_name} on Attest as {}.", role.label())
                + &format!("\n\nSet your password here (the link works for 7 days):\n{public_url}/invite/{token}\n"),
        })
        .await
}

/// Whether an invitation to `invited` may replace the membership `existing`: never to
/// lower it. An owner stays owner unless invited as owner; any other role is replaced
/// only by one carrying at least all its permissions.
fn invitation_raises(existing: &RoleRef, invited: &RoleRef) -> bool {
    if is_owner(existing) {
        return is_owner(invited);
    }
    crate::access::Permission::ALL.into_iter().all(|p| !existing.has(p) || invited.has(p))
}

/// Accepts an invitation: sets the password (for a new account) and adds the membership.
/// An existing membership is never lowered by it (an owner invited "as viewer" stays
/// owner); the link is claimed and the membership written in one transaction.
pub async fn accept_invitation(db: &Db, token: &str, password: &str) -> Result<String, AppError> {
    let expired = || AppError::BadRequest("This invitation has expired or was already used. Ask for a new one.".into());
    let row = sqlx::query("SELECT id, workspace_id, email, role FROM invitations WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > $2")
        .bind(crate::access::tokens::hash_token(token))
        .bind(now_ms())
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(expired)?;
    let email: String = row.try_get("email")?;
    let role_code: String = row.try_get("role")?;
    let workspace_id: String = row.try_get("workspace_id")?;
    let id: String = row.try_get("id")?;
    let invited = crate::access::roles::resolve(db, &workspace_id, &role_code).await?;
    let has_password: Option<Option<String>> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1").bind(&email).fetch_optional(db.pool()).await?;
    // Hashing is slow: done before the transaction, used only for an account without one.
    let password_hash = if matches!(has_password, Some(Some(_))) { None } else { Some(password::hash(password.to_string()).await?) };

    let now = now_ms();
    let mut tx = begin_membership_change(db, &workspace_id).await?;
    let claimed = sqlx::query("UPDATE invitations SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL").bind(now).bind(&id).execute(&mut *tx).await?;
    if claimed.rows_affected() == 0 {
        return Err(expired());
    }
    let existing: Option<(String, Option<String>)> = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| Ok::<_, sqlx::Error>((r.try_get("id")?, r.try_get("password_hash")?)))
        .transpose()?;
    let user_id = match existing {
        Some((id, Some(_))) => id,
        Some((id, None)) => {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(&password_hash)
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            let id = new_id("usr");
            sqlx::query("INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
                .bind(&id)
                .bind(&email)
                .bind(&password_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            id
        }
    };
    let current = match member_in(&mut tx, &workspace_id, &user_id).await {
        Ok((_, role)) => Some(role),
        Err(AppError::NotFound) => None,
        Err(e) => return Err(e),
    };
    let (action, detail) = match &current {
        None => {
            sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&workspace_id)
                .bind(&user_id)
                .bind(invited.code())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            ("member.added", serde_json::json!({ "email": email, "role": invited.code(), "invitation": id }))
        }
        Some(existing) if existing.code() != invited.code() && invitation_raises(existing, &invited) => {
            sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
                .bind(invited.code())
                .bind(&workspace_id)
                .bind(&user_id)
                .execute(&mut *tx)
                .await?;
            ("member.role_changed", serde_json::json!({ "email": email, "from": existing.label(), "to": invited.label(), "invitation": id }))
        }
        Some(existing) => {
            ("member.invitation_kept_role", serde_json::json!({ "email": email, "kept": existing.label(), "invited_as": invited.label(), "invitation": id }))
        }
    };
    activity::record(
        &mut *tx,
        Entry { workspace_id: Some(&workspace_id), actor: &Actor::System, action, target: Some(&user_id), detail: Some(detail) },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(email)
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
