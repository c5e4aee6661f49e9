//! MFA challenges (SPEC §2): opened after a correct password, stored server-side,
//! 10 minutes to live, 5 wrong codes void it. Email codes are 6 digits, stored as an
//! HMAC (keyed from the master key), compared in constant time, single use; a resend
//! waits 60 s and voids the previous code. Users with an authenticator app answer with
//! a TOTP code or a recovery code instead.
//!
//! Wrong codes are also counted per user across challenges (a new password sign-in opens
//! a new challenge, so the per-challenge limit alone would allow guessing for hours):
//! [`USER_MAX_FAILURES`] wrong codes within an hour lock the second factor until an admin
//! or `attest admin unlock` lifts it, and the user is told by mail. Both counts are
//! reserved atomically before a code is compared.

use super::totp;
use crate::{
    documents::crypto::MasterKey,
    error::AppError,
    mail::{Email, Mailer},
    store::{ids::new_id, now_ms, Db},
};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sqlx::Row;

pub const CHALLENGE_TTL_MS: i64 = 10 * 60 * 1000;
pub const RESEND_COOLDOWN_MS: i64 = 60 * 1000;
pub const MAX_ATTEMPTS: i64 = 5;
/// Wrong second-factor codes one user may enter within [`USER_FAILURE_WINDOW_MS`].
pub const USER_MAX_FAILURES: i64 = 10;
pub const USER_FAILURE_WINDOW_MS: i64 = 60 * 60 * 1000;

/// How the user proves the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Email,
    Totp,
}

impl Method {
    fn code(self) -> &'static str {
        match self {
            Method::Email => "email",
            Method::Totp => "totp",
        }
    }
}

/// A live challenge as the challenge page shows it.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: String,
    pub user_id: String,
    pub method: Method,
    pub expires_at: i64,
    pub resend_available_at: i64,
    pub attempts_left: i64,
}

fn code_mac(master: &MasterKey, challenge_id: &str, code: &str) -> String {
    let key = master.derive("mfa-email-code");
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(challenge_id.as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn new_code() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
}

async fn send_code(mailer: &dyn Mailer, email: &str, code: &str) -> Result<(), AppError> {
    mailer
        .send(Email {
            to: email.to_string(),
            // The code stays out of the subject: subjects show on lock screens and in logs.
            subject: "Your Attest sign-in code".to_string(),
            body: format!(
                "Your Attest sign-in code is {code}\n\nIt expires in 10 minutes and works once. \
                 If you did not try to sign in, change your password and tell your administrator.\n"
            ),
        })
        .await
}

/// Opens a challenge for `user_id`, voiding any earlier one, and mails the code when
/// the method is email.
pub async fn open(db: &Db, master: &MasterKey, mailer: &dyn Mailer, user_id: &str, email: &str, method: Method) -> Result<String, AppError> {
    let id = new_id("mfa");
    let now = now_ms();
    let code = new_code();
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE mfa_challenges SET voided_at = $1 WHERE user_id = $2 AND consumed_at IS NULL AND voided_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO mfa_challenges (id, user_id, method, code_hash, expires_at, last_sent_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
        .bind(&id)
        .bind(user_id)
        .bind(method.code())
        .bind((method == Method::Email).then(|| code_mac(master, &id, &code)))
        .bind(now + CHALLENGE_TTL_MS)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if method == Method::Email {
        send_code(mailer, email, &code).await?;
    }
    Ok(id)
}

/// The challenge if it is still live (not expired, used, voided).
pub async fn live(db: &Db, challenge_id: &str) -> Result<Challenge, AppError> {
    let row = sqlx::query(
        "SELECT id, user_id, method, attempts, expires_at, last_sent_at FROM mfa_challenges WHERE id = $1 AND consumed_at IS NULL AND voided_at IS NULL",
    )
    .bind(challenge_id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(AppError::MfaExpired)?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let attempts: i64 = row.try_get("attempts")?;
    if expires_at <= now_ms() || attempts >= MAX_ATTEMPTS {
        return Err(AppError::MfaExpired);
    }
    let method: String = row.try_get("method")?;
    Ok(Challenge {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        method: if method == "totp" { Method::Totp } else { Method::Email },
        expires_at,
        resend_available_at: row.try_get::<Option<i64>, _>("last_sent_at")?.unwrap_or(0) + RESEND_COOLDOWN_MS,
        attempts_left: MAX_ATTEMPTS - attempts,
    })
}

/// Whether the user's second factor is locked after too many wrong codes.
pub async fn is_locked(db: &Db, user_id: &str) -> Result<bool, AppError> {
    let locked: Option<i64> = sqlx::query_scalar("SELECT mfa_locked_at FROM users WHERE id = $1").bind(user_id).fetch_optional(db.pool()).await?.flatten();
    Ok(locked.is_some())
}

/// What a wrong code led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Try again.
    Wrong,
    /// The challenge is used up.
    ChallengeVoided,
    /// This code locked the user's second factor (mail sent).
    LockedNow,
    /// It was locked already: nothing was compared.
    Locked,
}

impl Refusal {
    pub fn error(self) -> AppError {
        match self {
            Refusal::Wrong => AppError::WrongCode,
            Refusal::ChallengeVoided => AppError::MfaExpired,
            Refusal::LockedNow | Refusal::Locked => AppError::MfaLocked,
        }
    }
}

/// Reserves one comparison on the challenge (at most [`MAX_ATTEMPTS`]) and one on the
/// user (at most [`USER_MAX_FAILURES`] an hour), in one write transaction.
async fn reserve_attempt(db: &Db, challenge_id: &str, user_id: &str) -> Result<Result<i64, Refusal>, AppError> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let user = sqlx::query(
        "UPDATE users SET \
           mfa_failures = CASE WHEN mfa_window_start IS NULL OR mfa_window_start < $2 THEN 1 ELSE mfa_failures + 1 END, \
           mfa_window_start = CASE WHEN mfa_window_start IS NULL OR mfa_window_start < $2 THEN $3 ELSE mfa_window_start END \
         WHERE id = $1 AND mfa_locked_at IS NULL AND (mfa_window_start IS NULL OR mfa_window_start < $2 OR mfa_failures < $4) \
         RETURNING mfa_failures",
    )
    .bind(user_id)
    .bind(now - USER_FAILURE_WINDOW_MS)
    .bind(now)
    .bind(USER_MAX_FAILURES)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user) = user else {
        tx.commit().await?;
        return Ok(Err(Refusal::Locked));
    };
    let user_failures: i64 = user.try_get("mfa_failures")?;
    let challenge = sqlx::query("UPDATE mfa_challenges SET attempts = attempts + 1 WHERE id = $1 AND consumed_at IS NULL AND voided_at IS NULL AND attempts < $2 AND expires_at > $3 RETURNING attempts")
        .bind(challenge_id)
        .bind(MAX_ATTEMPTS)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    if challenge.is_none() {
        // Nothing will be compared: give the user's attempt back.
        tx.rollback().await?;
        return Ok(Err(Refusal::ChallengeVoided));
    }
    tx.commit().await?;
    Ok(Ok(user_failures))
}

/// Checks `code`; on success the challenge is consumed (single use) and the user's count
/// of wrong codes cleared. Five wrong codes void the challenge; the user's tenth wrong
/// code within an hour locks their second factor and mails them.
pub async fn verify(
    db: &Db,
    master: &MasterKey,
    mailer: &dyn Mailer,
    challenge_id: &str,
    email: &str,
    code: &str,
) -> Result<Result<String, Refusal>, AppError> {
    let challenge = match live(db, challenge_id).await {
        Ok(challenge) => challenge,
        Err(AppError::MfaExpired) => return Ok(Err(Refusal::ChallengeVoided)),
        Err(e) => return Err(e),
    };
    let user_failures = match reserve_attempt(db, challenge_id, &challenge.user_id).await? {
        Ok(failures) => failures,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let ok = match challenge.method {
        Method::Email => {
            let stored: Option<String> =
                sqlx::query_scalar("SELECT code_hash FROM mfa_challenges WHERE id = $1").bind(challenge_id).fetch_one(db.pool()).await?;
            let given = code_mac(master, challenge_id, &code);
            stored.is_some_and(|s| subtle::ConstantTimeEq::ct_eq(s.as_bytes(), given.as_bytes()).into())
        }
        Method::Totp => totp::verify_login_code(db, master, &challenge.user_id, &code).await?,
    };
    let now = now_ms();
    if ok {
        // Consume atomically: a second, concurrent use of the same code finds nothing.
        let consumed = sqlx::query("UPDATE mfa_challenges SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL AND voided_at IS NULL")
            .bind(now)
            .bind(challenge_id)
            .execute(db.pool())
            .await?;
        if consumed.rows_affected() == 1 {
            sqlx::query("UPDATE users SET mfa_failures = 0, mfa_window_start = NULL WHERE id = $1").bind(&challenge.user_id).execute(db.pool()).await?;
            return Ok(Ok(challenge.user_id));
        }
        return Ok(Err(Refusal::ChallengeVoided));
    }
    if user_failures >= USER_MAX_FAILURES {
        let locked = sqlx::query("UPDATE users SET mfa_locked_at = $1 WHERE id = $2 AND mfa_locked_at IS NULL")
            .bind(now)
            .bind(&challenge.user_id)
            .execute(db.pool())
            .await?;
        sqlx::query("UPDATE mfa_challenges SET voided_at = $1 WHERE user_id = $2 AND consumed_at IS NULL AND voided_at IS NULL")
            .bind(now)
            .bind(&challenge.user_id)
            .execute(db.pool())
            .await?;
        if locked.rows_affected() == 1 {
            tell_locked(mailer, email).await;
        }
        return Ok(Err(Refusal::LockedNow));
    }
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM mfa_challenges WHERE id = $1").bind(challenge_id).fetch_one(db.pool()).await?;
    if attempts >= MAX_ATTEMPTS {
        sqlx::query("UPDATE mfa_challenges SET voided_at = $1 WHERE id = $2 AND voided_at IS NULL").bind(now).bind(challenge_id).execute(db.pool()).await?;
        return Ok(Err(Refusal::ChallengeVoided));
    }
    Ok(Err(Refusal::Wrong))
}

/// Tells the user their second factor is locked; a mail failure is logged, not fatal.
async fn tell_locked(mailer: &dyn Mailer, email: &str) {
    let sent = mailer
        .send(Email {
            to: email.to_string(),
            subject: "Your Attest sign-in is locked".to_string(),
            body: format!(
                "Someone entered {USER_MAX_FAILURES} wrong sign-in codes for your Attest account within an hour, after \
                 entering your password correctly.\n\nYour second factor is now locked. If this was not you, your password \
                 is known to someone else: ask an administrator to unlock your account, then change your password.\n"
            ),
        })
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not mail the second-factor lock notice");
    }
}

/// Mails a new code (after the 60 s cooldown), voiding the previous one.
pub async fn resend(db: &Db, master: &MasterKey, mailer: &dyn Mailer, challenge_id: &str, email: &str) -> Result<(), AppError> {
    let challenge = live(db, challenge_id).await?;
    if challenge.method != Method::Email {
        return Err(AppError::BadRequest("This sign-in uses your authenticator app.".into()));
    }
    let now = now_ms();
    if now < challenge.resend_available_at {
        let wait = (challenge.resend_available_at - now + 999) / 1000;
        return Err(AppError::BadRequest(format!("You can request a new code in {wait} seconds.")));
    }
    let code = new_code();
    sqlx::query("UPDATE mfa_challenges SET code_hash = $1, last_sent_at = $2 WHERE id = $3")
        .bind(code_mac(master, challenge_id, &code))
        .bind(now)
        .bind(challenge_id)
        .execute(db.pool())
        .await?;
    send_code(mailer, email, &code).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_macs_bind_the_challenge() {
        let master = MasterKey::generate();
        for _ in 0..100 {
            let code = new_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(code_mac(&master, "mfa_1", "123456"), code_mac(&master, "mfa_1", "123456"));
        assert_ne!(code_mac(&master, "mfa_1", "123456"), code_mac(&master, "mfa_2", "123456"));
        assert_ne!(code_mac(&master, "mfa_1", "123456"), code_mac(&MasterKey::generate(), "mfa_1", "123456"));
    }
}
