//! Brute-force protection (SPEC §2): consecutive failures per normalized email lock it
//! for a while — counted whether or not an account exists, so the lock reveals nothing
//! — and a per-address throttle slows credential stuffing across many emails.

use crate::{error::AppError, store::{now_ms, Db}};
use sqlx::Row;

/// Thresholds, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: i64,
    pub lock_minutes: i64,
    /// Failed sign-ins one client address may make per window, across all emails.
    pub ip_max_failures: i64,
    pub ip_window_minutes: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy { max_failures: 5, lock_minutes: 15, ip_max_failures: 50, ip_window_minutes: 15 }
    }
}

/// `Err(Locked)` while `email` is locked.
pub async fn ensure_unlocked(db: &Db, email: &str) -> Result<(), AppError> {
    let locked_until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM login_lockouts WHERE email = $1")
        .bind(email)
        .fetch_optional(db.pool())
        .await?
        .flatten();
    match locked_until {
        Some(until) if until > now_ms() => Err(AppError::Locked { until: crate::verifications::rfc3339(until) }),
        _ => Ok(()),
    }
}

/// Counts a failure; returns the lock's end when this failure locks the email.
pub async fn record_failure(db: &Db, email: &str, policy: &LockoutPolicy) -> Result<Option<i64>, AppError> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let row = sqlx::query("SELECT failures, locked_until FROM login_lockouts WHERE email = $1").bind(email).fetch_optional(&mut *tx).await?;
    // A lock that has run out starts a fresh count.
    let previous = match &row {
        Some(r) if r.try_get::<Option<i64>, _>("locked_until")?.is_some_and(|u| u <= now) => 0,
        Some(r) => r.try_get::<i64, _>("failures")?,
        None => 0,
    };
    let failures = previous + 1;
    let locked_until = (failures >= policy.max_failures).then(|| now + policy.lock_minutes * 60_000);
    if row.is_some() {
        sqlx::query("UPDATE login_lockouts SET failures = $1, locked_until = $2, updated_at = $3 WHERE email = $4")
            .bind(if locked_until.is_some() { 0 } else { failures })
            .bind(locked_until)
            .bind(now)
            .bind(email)
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("INSERT INTO login_lockouts (email, failures, locked_until, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(email)
            .bind(if locked_until.is_some() { 0 } else { failures })
            .bind(locked_until)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(locked_until)
}

/// A successful sign-in clears the count.
pub async fn record_success(db: &Db, email: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM login_lockouts WHERE email = $1").bind(email).execute(db.pool()).await?;
    Ok(())
}

/// Lifts a lock (admin or operator). Returns whether one was in force.
pub async fn unlock(db: &Db, email: &str) -> Result<bool, AppError> {
    let locked: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM login_lockouts WHERE email = $1").bind(email).fetch_optional(db.pool()).await?.flatten();
    sqlx::query("DELETE FROM login_lockouts WHERE email = $1").bind(email).execute(db.pool()).await?;
    Ok(locked.is_some_and(|u| u > now_ms()))
}

/// When `email` is locked, until when.
pub async fn locked_until(db: &Db, email: &str) -> Result<Option<i64>, AppError> {
    let until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM login_lockouts WHERE email = $1").bind(email).fetch_optional(db.pool()).await?.flatten();
    Ok(until.filter(|u| *u > now_ms()))
}

/// `Err(TooManyAttempts)` when the address has failed too often in this window.
pub async fn ensure_ip_allowed(db: &Db, ip: Option<&str>, policy: &LockoutPolicy) -> Result<(), AppError> {
    let Some(ip) = ip else { return Ok(()) };
    let row = sqlx::query("SELECT window_start, failures FROM login_ip_failures WHERE ip = $1").bind(ip).fetch_optional(db.pool()).await?;
    if let Some(row) = row {
        let start: i64 = row.try_get("window_start")?;
        let failures: i64 = row.try_get("failures")?;
        let window_end = start + policy.ip_window_minutes * 60_000;
        if failures >= policy.ip_max_failures && window_end > now_ms() {
            return Err(AppError::TooManyAttempts { retry_after_secs: ((window_end - now_ms()) / 1000).max(1) as u64 });
        }
    }
    Ok(())
}

pub async fn record_ip_failure(db: &Db, ip: Option<&str>, policy: &LockoutPolicy) -> Result<(), AppError> {
    let Some(ip) = ip else { return Ok(()) };
    let now = now_ms();
    let window_start = now - policy.ip_window_minutes * 60_000;
    sqlx::query(
        "INSERT INTO login_ip_failures (ip, window_start, failures) VALUES ($1, $2, 1) \
         ON CONFLICT (ip) DO UPDATE SET \
           failures = CASE WHEN login_ip_failures.window_start < $3 THEN 1 ELSE login_ip_failures.failures + 1 END, \
           window_start = CASE WHEN login_ip_failures.window_start < $3 THEN $2 ELSE login_ip_failures.window_start END",
    )
    .bind(ip)
    .bind(now)
    .bind(window_start)
    .execute(db.pool())
    .await?;
    Ok(())
}
