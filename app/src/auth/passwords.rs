//! Password life cycle: a signed-in user changes their password (current password and
//! second factor), a signed-out user resets it through a single-use e-mailed link.
//!
//! A reset request gets the same answer whether or not the address has an account, and
//! the mail goes out off the request path so the answer takes the same time too.

use super::password;
use crate::{
    access::Actor,
    activity::{self, Entry, RequestOrigin},
    error::AppError,
    mail::{Email, Mailer},
    members::service::normalize_email,
    state::AppState,
    store::{ids, now_ms, Db},
};
use std::sync::Arc;

/// How long a reset link works.
pub const RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// A second request within this time sends no second mail (no mail bombing).
const RESET_RESEND_MS: i64 = 60 * 1000;

async fn log(db: &Db, user_id: &str, action: &str, origin: &RequestOrigin) -> Result<(), AppError> {
    let actor = Actor::Account { id: user_id.to_string() };
    activity::record(db.pool(), Entry { workspace_id: None, actor: &actor, action, target: Some(user_id), detail: None }, origin).await?;
    Ok(())
}

/// Sets a new password for `user_id`: strength-checked, hashed, every other session
/// ended (all of them when `keep_session` is `None`), any sign-in lock lifted, the
/// user told by mail.
async fn set_password(state: &AppState, user_id: &str, email: &str, new_password: &str, keep_session: Option<&str>) -> Result<(), AppError> {
    password::check_strength(new_password, &[email])?;
    let hash = password::hash(new_password.to_string()).await?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(&hash).bind(user_id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2").bind(user_id).bind(keep_session.unwrap_or("")).execute(&mut *tx).await?;
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL").bind(now_ms()).bind(user_id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM login_lockouts WHERE email = $1").bind(email).execute(&mut *tx).await?;
    tx.commit().await?;
    let notice = Email {
        to: email.to_string(),
        subject: "Your Attest password was changed".into(),
        body: "The password of your Attest account was just changed, and your other sessions were signed out.\n\n\
               If you did not do this, reset your password at once and tell your administrator.\n"
            .into(),
    };
    if let Err(e) = state.mailer.send(notice).await {
        tracing::warn!(error = %e, "could not mail the password-change notice");
    }
    Ok(())
}

/// A signed-in user's change: the current password (through the sign-in lockout), then
/// the second factor when the user has one, then the new password. Other sessions end.
pub async fn change(
    state: &AppState,
    user: &super::SessionUser,
    current_session: &str,
    current_password: &str,
    second_factor: SecondFactor<'_>,
    new_password: &str,
    origin: &RequestOrigin,
) -> Result<(), AppError> {
    if current_password.is_empty() || current_password.len() > 1024 {
        return Err(AppError::invalid("current_password", "The password is not correct."));
    }
    match super::service::check_password(state, &user.email, current_password, origin).await {
        Ok(_) => {}
        Err(AppError::InvalidCredentials) => return Err(AppError::invalid("current_password", "The password is not correct.")),
        Err(other) => return Err(other),
    }
    // The new password is judged before the second factor is spent on the attempt.
    if new_password == current_password {
        return Err(AppError::invalid("new_password", "The new password must differ from the current one."));
    }
    password::check_strength(new_password, &[&user.email])?;
    let wrong_code = || AppError::invalid("code", "That code is not right. Check it and try again.");
    match second_factor {
        SecondFactor::NotNeeded => {}
        SecondFactor::Authenticator(code) => {
            if code.len() > 64 || !super::totp::verify_login_code(&state.db, &state.files.master, &user.id, code.trim()).await? {
                return Err(wrong_code());
            }
        }
        SecondFactor::EmailChallenge { challenge_id, code } => {
            let Some(challenge_id) = challenge_id else {
                return Err(AppError::invalid("code", "Ask for a code by e-mail first."));
            };
            match super::mfa::verify(&state.db, &state.files.master, state.mailer.as_ref(), challenge_id, &user.email, code).await? {
                Ok(owner) if owner == user.id => {}
                Ok(_) => return Err(AppError::Forbidden),
                Err(super::mfa::Refusal::Wrong) => return Err(wrong_code()),
                Err(refusal) => return Err(refusal.error()),
            }
        }
    }
    set_password(state, &user.id, &user.email, new_password, Some(current_session)).await?;
    log(&state.db, &user.id, "password.changed", origin).await
}

/// What proves the second factor for a password change.
pub enum SecondFactor<'a> {
    /// Sandbox without MFA and no authenticator app.
    NotNeeded,
    /// A code from the authenticator app, or a recovery code.
    Authenticator(&'a str),
    /// The code mailed for the challenge opened by "E-mail me a code".
    EmailChallenge { challenge_id: Option<&'a str>, code: &'a str },
}

/// "Forgot password?": when `email` has an account, a single-use link valid for 30
/// minutes goes to it. The caller answers the same either way.
pub async fn request_reset(state: &AppState, email: &str, origin: &RequestOrigin) -> Result<(), AppError> {
    let email = normalize_email(email);
    if email.is_empty() || email.len() > 254 {
        return Err(AppError::invalid("email", "Enter the e-mail address you sign in with."));
    }
    let user_id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(state.db.pool()).await?;
    let Some(user_id) = user_id else { return Ok(()) };
    let now = now_ms();
    let recent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM password_resets WHERE user_id = $1 AND created_at > $2")
        .bind(&user_id)
        .bind(now - RESET_RESEND_MS)
        .fetch_one(state.db.pool())
        .await?;
    if recent > 0 {
        return Ok(());
    }
    let token = ids::random_secret(32);
    sqlx::query("INSERT INTO password_resets (id, user_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(ids::new_id("pwr"))
        .bind(&user_id)
        .bind(crate::access::tokens::hash_token(&token))
        .bind(now + RESET_TTL_MS)
        .bind(now)
        .execute(state.db.pool())
        .await?;
    log(&state.db, &user_id, "password.reset_requested", origin).await?;
    let mail = Email {
        to: email,
        subject: "Reset your Attest password".into(),
        body: format!(
            "Someone asked to reset the password of your Attest account. If it was you, choose a new password here \
             (the link works once, for 30 minutes):\n{}/reset-password/{token}\n\nIf it was not you, ignore this mail: \
             your password stays as it is.\n",
            state.settings.public_url
        ),
    };
    // Off the request path: an address with an account answers as fast as one without.
    let mailer: Arc<dyn Mailer> = state.mailer.clone();
    tokio::spawn(async move {
        if let Err(e) = mailer.send(mail).await {
            tracing::warn!(error = %e, "could not mail a password-reset link");
        }
    });
    Ok(())
}

/// Whether a reset link still works (for its page).
pub async fn reset_link_live(db: &Db, token: &str) -> Result<bool, AppError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
        .bind(crate::access::tokens::hash_token(token))
        .bind(now_ms())
        .fetch_optional(db.pool())
        .await?;
    Ok(found.is_some())
}

/// Uses a reset link: the link is consumed first (atomically, so it works once), then the
/// password set and every session of the user ended. The second factor still applies at
/// the next sign-in.
pub async fn reset(state: &AppState, token: &str, new_password: &str, origin: &RequestOrigin) -> Result<(), AppError> {
    let gone = || AppError::BadRequest("This reset link has expired or was already used. Ask for a new one.".into());
    if token.is_empty() || token.len() > 128 {
        return Err(gone());
    }
    let hash = crate::access::tokens::hash_token(token);
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT password_resets.user_id, users.email FROM password_resets JOIN users ON users.id = password_resets.user_id \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(&hash)
    .bind(now_ms())
    .fetch_optional(state.db.pool())
    .await?;
    let Some((user_id, email)) = row else { return Err(gone()) };
    // Strength first, so a refused password leaves the link usable.
    password::check_strength(new_password, &[&email])?;
    let consumed = sqlx::query("UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now_ms())
        .bind(&hash)
        .execute(state.db.pool())
        .await?;
    if consumed.rows_affected() != 1 {
        return Err(gone());
    }
    set_password(state, &user_id, &email, new_password, None).await?;
    log(&state.db, &user_id, "password.reset", origin).await
}
