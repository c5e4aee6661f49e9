//! Server side of sign-in: credential checks, session start and end, the acting user.

use super::{password, session_store::USER_KEY, SessionUser};
use crate::{
    access::Actor,
    activity::{self, Entry, RequestOrigin},
    error::AppError,
    members::normalize_email,
    store::Db,
};
use sqlx::Row;
use tower_sessions::Session;

/// The database session of the current request (server functions only).
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| AppError::internal("session layer", e))
}

/// The signed-in user of the current request, if any.
pub async fn session_user() -> Result<Option<SessionUser>, AppError> {
    session()
        .await?
        .get::<SessionUser>(USER_KEY)
        .await
        .map_err(|e| AppError::internal("reading session", e))
}

/// The signed-in user, or 401.
pub async fn require_user() -> Result<SessionUser, AppError> {
    session_user().await?.ok_or(AppError::Unauthenticated)
}

/// Client address and user agent of the current request, for the activity log.
pub async fn request_origin() -> RequestOrigin {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    let ip = leptos_axum::extract::<ConnectInfo<SocketAddr>>().await.ok().map(|c| c.0.ip().to_string());
    let user_agent = leptos_axum::extract::<http::HeaderMap>()
        .await
        .ok()
        .and_then(|h| h.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string));
    RequestOrigin { ip, user_agent }
}

/// Checks the password of `email`. Unknown emails are verified against a dummy hash,
/// so both failures take the same time and get the same [`AppError::InvalidCredentials`].
/// Every attempt is written to the activity log.
pub async fn verify_credentials(
    db: &Db,
    email: &str,
    password: &str,
    origin: &RequestOrigin,
) -> Result<SessionUser, AppError> {
    let email = normalize_email(email);
    if email.is_empty() || password.is_empty() || password.len() > 1024 {
        return Err(AppError::InvalidCredentials);
    }
    let row = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(db.pool())
        .await?;
    let (user_id, stored) = match row {
        Some(row) => (Some(row.try_get::<String, _>("id")?), row.try_get::<Option<String>, _>("password_hash")?),
        None => (None, None),
    };
    let ok = password::verify(password.to_string(), stored).await?;

    let (action, actor) = match (&user_id, ok) {
        (Some(id), true) => ("login.succeeded", Actor::Account { id: id.clone() }),
        _ => ("login.failed", Actor::System),
    };
    activity::record(
        db.pool(),
        Entry {
            workspace_id: None,
            actor: &actor,
            action,
            target: user_id.as_deref(),
            detail: Some(serde_json::json!({ "email": email })),
        },
        origin,
    )
    .await?;

    match (user_id, ok) {
        (Some(id), true) => Ok(SessionUser { id, email }),
        _ => Err(AppError::InvalidCredentials),
    }
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

/// `next` when it is a local path (`/…`, not `//…`), else `/`: no open redirects.
pub fn local_redirect_target(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_string(),
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_redirect_target;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(local_redirect_target(Some("/w/acme")), "/w/acme");
        for bad in ["//evil.example", "https://evil.example", "/\\evil.example", "w/acme"] {
            assert_eq!(local_redirect_target(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_redirect_target(None), "/");
    }
}
