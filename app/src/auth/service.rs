//! Server side of sign-in: credential checks, session start and end, the acting user.

use super::{password, session_store::USER_KEY, SessionUser};
use crate::{
    access::Actor,
    activity::{self, Entry, RequestOrigin},
    error::AppError,
    members::service::normalize_email,
    store::Db,
};
use sqlx::Row;
use tower_sessions::Session;

/// The database session of the current request (server functions only).
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| AppError::internal("session layer", e))
}

/// The signed-in user of the current request, if any. Past the absolute lifetime the
/// session is ended.
pub async fn session_user() -> Result<Option<SessionUser>, AppError> {
    let session = session().await?;
    let user = session.get::<SessionUser>(USER_KEY).await.map_err(|e| AppError::internal("reading session", e))?;
    match user {
        Some(u) if crate::store::now_ms() - u.signed_in_at > ABSOLUTE_SESSION_MS => {
            session.flush().await.map_err(|e| AppError::internal("ending session", e))?;
            Ok(None)
        }
        other => Ok(other),
    }
}

/// The signed-in user, or 401.
pub async fn require_user() -> Result<SessionUser, AppError> {
    session_user().await?.ok_or(AppError::Unauthenticated)
}

/// Client address and user agent of the current request, for the activity log.
pub async fn request_origin() -> RequestOrigin {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    let peer = leptos_axum::extract::<ConnectInfo<SocketAddr>>().await.ok().map(|c| c.0.ip());
    let headers = leptos_axum::extract::<http::HeaderMap>().await.unwrap_or_default();
    let trusted = crate::state::AppState::from_context().map(|s| s.settings.trusted_proxies.clone()).unwrap_or_default();
    super::client_ip::origin(peer, &headers, &trusted)
}

/// Signed-in sessions end this long after sign-in, however active (absolute timeout).
pub const ABSOLUTE_SESSION_MS: i64 = 12 * 60 * 60 * 1000;
/// Session key of a sign-in waiting for its second factor.
pub const PENDING_MFA_KEY: &str = "pending_mfa";

/// A correct password whose second factor is still due.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PendingMfa {
    pub challenge_id: String,
    pub user_id: String,
    pub email: String,
    pub next: String,
}

pub enum SignIn {
    Complete(SessionUser),
    NeedsMfa(PendingMfa),
}

/// Checks the password of `email`. Unknown emails are verified against a dummy hash,
/// so both failures take the same time and get the same [`AppError::InvalidCredentials`].
/// The attempt takes a hashing slot, then is reserved against the address throttle and
/// the email's lockout before any hash runs (see [`super::lockout`]). Every attempt is
/// written to the activity log.
pub async fn verify_credentials(state: &crate::state::AppState, email: &str, password: &str, origin: &RequestOrigin) -> Result<SessionUser, AppError> {
    let email = normalize_email(email);
    if email.is_empty() || email.len() > 254 || password.is_empty() || password.len() > 1024 {
        return Err(AppError::InvalidCredentials);
    }
    let user_id = check_password(state, &email, password, origin).await?;
    Ok(SessionUser { id: user_id, email, signed_in_at: crate::store::now_ms() })
}

/// The password check behind sign-in and every re-entry of the password (account page):
/// the same slot, throttle, lockout and activity entries. Returns the user's id.
pub async fn check_password(state: &crate::state::AppState, email: &str, password: &str, origin: &RequestOrigin) -> Result<String, AppError> {
    let db = &state.db;
    let policy = state.settings.lockout;
    // Cheap refusals first: a locked email costs no hashing slot.
    if let Some(until) = super::lockout::locked_until(db, email).await? {
        log_attempt(db, "login.refused_locked", None, email, origin).await?;
        return Err(AppError::Locked { until: crate::dates::rfc3339(until) });
    }
    let slot = state.hashing.take().await?;
    super::lockout::reserve_ip(db, origin.ip.as_deref(), &policy).await?;
    let reservation = match super::lockout::reserve(db, email, &policy).await {
        Ok(reservation) => reservation,
        Err(locked) => {
            super::lockout::release_ip(db, origin.ip.as_deref()).await?;
            log_attempt(db, "login.refused_locked", None, email, origin).await?;
            return Err(locked);
        }
    };
    let row = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1").bind(email).fetch_optional(db.pool()).await?;
    let (user_id, stored) = match row {
        Some(row) => (Some(row.try_get::<String, _>("id")?), row.try_get::<Option<String>, _>("password_hash")?),
        None => (None, None),
    };
    let ok = password::verify(slot, password.to_string(), stored).await?;
    match (user_id, ok) {
        (Some(id), true) => {
            super::lockout::record_success(db, email).await?;
            super::lockout::release_ip(db, origin.ip.as_deref()).await?;
            log_attempt(db, "login.password_ok", Some(&id), email, origin).await?;
            Ok(id)
        }
        (user_id, _) => {
            log_attempt(db, "login.failed", user_id.as_deref(), email, origin).await?;
            metrics::counter!("attest_sign_in_failures_total").increment(1);
            if let Some(until) = reservation.locks_until {
                metrics::counter!("attest_sign_in_lockouts_total").increment(1);
                log_attempt(db, "login.locked", user_id.as_deref(), email, origin).await?;
                return Err(AppError::Locked { until: crate::dates::rfc3339(until) });
            }
            Err(AppError::InvalidCredentials)
        }
    }
}

async fn log_attempt(db: &Db, action: &str, user_id: Option<&str>, email: &str, origin: &RequestOrigin) -> Result<(), AppError> {
    let actor = match user_id {
        Some(id) => Actor::Account { id: id.to_string() },
        None => Actor::System,
    };
    activity::record(
        db.pool(),
        Entry { workspace_id: None, actor: &actor, action, target: user_id, detail: Some(serde_json::json!({ "email": email })) },
        origin,
    )
    .await?;
    Ok(())
}

/// Password check, then the second factor when required: always in production, when
/// configured in sandbox, and always for users with an authenticator app.
pub async fn sign_in(state: &crate::state::AppState, email: &str, password: &str, origin: &RequestOrigin) -> Result<SignIn, AppError> {
    let user = verify_credentials(state, email, password, origin).await?;
    if super::mfa::is_locked(&state.db, &user.id).await? {
        log_attempt(&state.db, "mfa.refused_locked", Some(&user.id), &user.email, origin).await?;
        return Err(AppError::MfaLocked);
    }
    let has_totp = super::totp::is_enrolled(&state.db, &user.id).await?;
    if !state.settings.mfa_required && !has_totp {
        log_attempt(&state.db, "login.succeeded", Some(&user.id), &user.email, origin).await?;
        return Ok(SignIn::Complete(user));
    }
    let method = if has_totp { super::mfa::Method::Totp } else { super::mfa::Method::Email };
    let challenge_id = super::mfa::open(&state.db, &state.files.master, state.mailer.as_ref(), &user.id, &user.email, method).await?;
    log_attempt(&state.db, "mfa.challenge_opened", Some(&user.id), &user.email, origin).await?;
    Ok(SignIn::NeedsMfa(PendingMfa { challenge_id, user_id: user.id, email: user.email, next: "/".into() }))
}

/// Remembers a sign-in waiting for its second factor (fresh session id).
pub async fn start_mfa(pending: PendingMfa) -> Result<(), AppError> {
    let session = session().await?;
    session.cycle_id().await.map_err(|e| AppError::internal("cycling session id", e))?;
    session.remove::<SessionUser>(USER_KEY).await.map_err(|e| AppError::internal("writing session", e))?;
    session.insert(PENDING_MFA_KEY, pending).await.map_err(|e| AppError::internal("writing session", e))
}

/// The sign-in waiting for its second factor, or `MfaExpired`.
pub async fn pending_mfa() -> Result<PendingMfa, AppError> {
    session().await?.get::<PendingMfa>(PENDING_MFA_KEY).await.map_err(|e| AppError::internal("reading session", e))?.ok_or(AppError::MfaExpired)
}

/// Completes a sign-in after its second factor: a fresh session id again.
pub async fn finish_mfa(pending: &PendingMfa, origin: &RequestOrigin, db: &Db) -> Result<(), AppError> {
    let session = session().await?;
    session.remove::<PendingMfa>(PENDING_MFA_KEY).await.map_err(|e| AppError::internal("writing session", e))?;
    log_attempt(db, "login.succeeded", Some(&pending.user_id), &pending.email, origin).await?;
    start_session(SessionUser { id: pending.user_id.clone(), email: pending.email.clone(), signed_in_at: crate::store::now_ms() }).await
}

/// Where a completed sign-in goes: `next`, except that the home page of someone with
/// exactly one workspace is that workspace (no one-card chooser).
pub async fn landing(db: &Db, user_id: &str, next: &str) -> Result<String, AppError> {
    if next != "/" {
        return Ok(next.to_string());
    }
    let workspaces = crate::workspaces::service::list_for_user(db, user_id).await?;
    Ok(match workspaces.as_slice() {
        [only] => format!("/w/{}", only.slug),
        _ => next.to_string(),
    })
}

/// Starts a signed-in session with a fresh id (no session fixation).
pub async fn start_session(user: SessionUser) -> Result<(), AppError> {
    let session = session().await?;
    session.cycle_id().await.map_err(|e| AppError::internal("cycling session id", e))?;
    session.insert(USER_KEY, user).await.map_err(|e| AppError::internal("writing session", e))
}

/// Deletes the session server-side and expires the cookie.
pub async fn end_session() -> Result<(), AppError> {
    session().await?.flush().await.map_err(|e| AppError::internal("ending session", e))
}

/// `next` when it is a same-origin path, else `/`: no open redirects. Only visible ASCII
/// is accepted (browsers drop tabs and newlines, so `/\t/evil.example` would become
/// `//evil.example`, and other bytes cannot go into a `Location` header), and the path
/// must not start `//` or `/\` (another host to a browser).
pub fn local_redirect_target(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/') && path.len() <= 2048 && !path.starts_with("//") && path.bytes().all(|b| b.is_ascii_graphic()) && !path.contains('\\') =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// How many live sessions `user_id` has besides `current`.
pub async fn other_sessions(db: &Db, user_id: &str, current: &str) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1 AND id <> $2 AND expires_at > $3")
        .bind(user_id)
        .bind(current)
        .bind(crate::store::now_ms())
        .fetch_one(db.pool())
        .await?)
}

/// Signs `user_id` out everywhere but `current`; journaled in the same transaction.
pub async fn end_other_sessions(db: &Db, user_id: &str, current: &str, origin: &crate::activity::RequestOrigin) -> Result<u64, AppError> {
    let mut tx = db.begin_write().await?;
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2").bind(user_id).bind(current).execute(&mut *tx).await?;
    let actor = crate::access::Actor::Account { id: user_id.to_string() };
    crate::activity::record(
        &mut *tx,
        crate::activity::Entry { workspace_id: None, actor: &actor, action: "session.others_ended", target: Some(user_id), detail: None },
        origin,
    )
    .await?;
    tx.commit().await?;
    Ok(ended.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::local_redirect_target;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(local_redirect_target(Some("/w/acme")), "/w/acme");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "w/acme",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/\u{7f}/x",
            "/caf\u{e9}",
            "/\u{2028}/evil.example",
        ] {
            assert_eq!(local_redirect_target(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_redirect_target(None), "/");
    }
}
