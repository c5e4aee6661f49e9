//! Brute-force protection (SPEC §2): consecutive failures per normalized email lock it
//! for a while — counted whether or not an account exists, so the lock reveals nothing
//! — and a per-address throttle slows credential stuffing across many emails.
//!
//! Every attempt is *reserved* before its password is checked, in one atomic statement
//! inside a write transaction: however many requests arrive at once, at most
//! `max_failures` guesses per email are ever checked in a lock window, and a failure
//! that lands while the email is locked cannot shorten or clear the lock.

use crate::{
    error::AppError,
    store::{now_ms, Db},
};
use sqlx::Row;

/// Thresholds, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: i64,
    pub lock_minutes: i64,
    /// Failed sign-ins one client address may make per window, across all emails.
    pub ip_max_failures: i64,
    pub ip_window_minutes: i64,
    /// Past that allowance the address is slowed down, not shut out: one attempt per
    /// this many seconds, so people sharing it (an office, a NAT) can still sign in.
    pub ip_slow_secs: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy { max_failures: 5, lock_minutes: 15, ip_max_failures: 50, ip_window_minutes: 15, ip_slow_secs: 10 }
    }
}

/// A reserved password check.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    /// When this attempt was the last one allowed, the lock it set in advance (ms): a
    /// wrong password leaves it in force, a right one lifts it.
    pub locks_until: Option<i64>,
}

fn locked_error(until: i64) -> AppError {
    AppError::Locked { until: crate::dates::rfc3339(until) }
}

/// Reserves one password check for `email`, or `Err(Locked)` while it is locked. The
/// attempt counts as a failure until [`record_success`] clears it.
pub async fn reserve(db: &Db, email: &str, policy: &LockoutPolicy) -> Result<Reservation, AppError> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO login_lockouts (email, failures, locked_until, updated_at) VALUES ($1, 0, NULL, $2) ON CONFLICT (email) DO NOTHING")
        .bind(email)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    // A lock that has run out starts a fresh count; an attempt that reaches the
    // threshold sets the lock before its password is checked.
    let reserved = sqlx::query(
        "UPDATE login_lockouts SET \
           failures = CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failures + 1 END, \
           locked_until = CASE WHEN (CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failures + 1 END) >= $2 THEN $3 + $4 ELSE NULL END, \
           updated_at = $3 \
         WHERE email = $1 AND (locked_until IS NULL OR locked_until <= $3) \
         RETURNING locked_until",
    )
    .bind(email)
    .bind(policy.max_failures)
    .bind(now)
    .bind(policy.lock_minutes * 60_000)
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match reserved {
        Some(row) => Ok(Reservation { locks_until: row.try_get::<Option<i64>, _>("locked_until")? }),
        None => {
            let until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM login_lockouts WHERE email = $1").bind(email).fetch_one(&mut *tx).await?;
            Err(locked_error(until.unwrap_or(now)))
        }
    };
    tx.commit().await?;
    outcome
}

/// A successful sign-in clears the count (and a lock its own reservation set).
pub async fn record_success(db: &Db, email: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM login_lockouts WHERE email = $1").bind(email).execute(db.pool()).await?;
    Ok(())
}

/// Lifts a lock (admin or operator): the sign-in lock of `email` and the second-factor
/// lock of its account. Returns whether either was in force.
pub async fn unlock(db: &Db, email: &str) -> Result<bool, AppError> {
    let mut tx = db.begin_write().await?;
    let was_locked = unlock_in(&mut tx, email).await?;
    tx.commit().await?;
    Ok(was_locked)
}

/// [`unlock`] inside the caller's transaction (which journals it).
pub async fn unlock_in(tx: &mut crate::journal::Tx, email: &str) -> Result<bool, AppError> {
    let now = now_ms();
    let locked: Option<i64> =
        sqlx::query_scalar("SELECT locked_until FROM login_lockouts WHERE email = $1").bind(email).fetch_optional(&mut **tx).await?.flatten();
    sqlx::query("DELETE FROM login_lockouts WHERE email = $1").bind(email).execute(&mut **tx).await?;
    let mfa = sqlx::query("UPDATE users SET mfa_locked_at = NULL, mfa_failures = 0, mfa_window_start = NULL WHERE email = $1 AND mfa_locked_at IS NOT NULL")
        .bind(email)
        .execute(&mut **tx)
        .await?;
    Ok(locked.is_some_and(|u| u > now) || mfa.rows_affected() > 0)
}

/// When `email` is locked, until when.
pub async fn locked_until(db: &Db, email: &str) -> Result<Option<i64>, AppError> {
    let until: Option<i64> =
        sqlx::query_scalar("SELECT locked_until FROM login_lockouts WHERE email = $1").bind(email).fetch_optional(db.pool()).await?.flatten();
    Ok(until.filter(|u| *u > now_ms()))
}

/// The key an address is throttled under: IPv4 as it is, IPv6 by its /64 (one
/// subscriber's allocation), so rotating through a prefix does not reset the count.
pub fn throttle_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_else(|| ip.to_string()),
        _ => ip.to_string(),
    }
}

/// Reserves one attempt for the client address. Within the window's allowance every
/// attempt passes; past it, one attempt per `ip_slow_secs` passes and the others get
/// `Err(TooManyAttempts)` with the wait. Successful sign-ins give their attempt back
/// ([`release_ip`]), so only failures use the allowance up.
pub async fn reserve_ip(db: &Db, ip: Option<&str>, policy: &LockoutPolicy) -> Result<(), AppError> {
    let Some(ip) = ip else { return Ok(()) };
    let key = throttle_key(ip);
    let now = now_ms();
    let window_start = now - policy.ip_window_minutes * 60_000;
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO login_ip_failures (ip, window_start, failures) VALUES ($1, $2, 0) ON CONFLICT (ip) DO NOTHING")
        .bind(&key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    // A window that has ended starts afresh; past the allowance an attempt passes only
    // once `next_allowed_at` has come, and pushes it on by the slow interval.
    let reserved = sqlx::query(
        "UPDATE login_ip_failures SET \
           failures = CASE WHEN window_start < $2 THEN 1 ELSE failures + 1 END, \
           next_allowed_at = CASE WHEN window_start >= $2 AND failures + 1 > $4 THEN $3 + $5 ELSE next_allowed_at END, \
           window_start = CASE WHEN window_start < $2 THEN $3 ELSE window_start END \
         WHERE ip = $1 AND (window_start < $2 OR failures < $4 OR next_allowed_at IS NULL OR next_allowed_at <= $3) \
         RETURNING failures",
    )
    .bind(&key)
    .bind(window_start)
    .bind(now)
    .bind(policy.ip_max_failures)
    .bind(policy.ip_slow_secs * 1000)
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match reserved {
        Some(_) => Ok(()),
        None => {
            let next: Option<i64> = sqlx::query_scalar("SELECT next_allowed_at FROM login_ip_failures WHERE ip = $1").bind(&key).fetch_one(&mut *tx).await?;
            Err(AppError::TooManyAttempts { retry_after_secs: ((next.unwrap_or(now) - now + 999) / 1000).max(1) as u64 })
        }
    };
    tx.commit().await?;
    outcome
}

/// Gives a successful sign-in's attempt back to its address.
pub async fn release_ip(db: &Db, ip: Option<&str>) -> Result<(), AppError> {
    let Some(ip) = ip else { return Ok(()) };
    sqlx::query("UPDATE login_ip_failures SET failures = failures - 1 WHERE ip = $1 AND failures > 0").bind(throttle_key(ip)).execute(db.pool()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::throttle_key;

    #[test]
    fn ipv6_addresses_are_throttled_per_64() {
        assert_eq!(throttle_key("2001:db8:1:2:aaaa::1"), throttle_key("2001:db8:1:2:bbbb::9"));
        assert_ne!(throttle_key("2001:db8:1:2::1"), throttle_key("2001:db8:1:3::1"));
        assert_eq!(throttle_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(throttle_key("::ffff:203.0.113.7"), "203.0.113.7");
    }
}
