//! Per-workspace rate limiting: one budget per workspace per minute, shared by all its
//! tokens (SPEC §3), with the IETF `RateLimit-Policy`/`RateLimit` fields and the legacy
//! `RateLimit-Limit/Remaining/Reset` on every response.
//!
//! A fixed one-minute window per workspace. Written here rather than with `governor`
//! because limits differ per workspace and change at run time, and the response fields
//! need the window's remaining count and reset time, which governor's keyed limiter does
//! not expose.
//!
//! On SQLite (one machine) the window lives in process memory. On PostgreSQL, where
//! several server processes share the database, the window is a row of
//! `rate_limit_windows` (workspace, minute) that each request increments with one
//! upsert, so the budget holds across every process; old rows are deleted by the
//! workers. Should that statement fail, the request is counted in memory instead: the
//! API stays up and the limit degrades to per process.

use app::store::{now_ms, Db, Engine};
use axum::http::{HeaderMap, HeaderValue};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    used: u64,
}

#[derive(Debug, Clone, Default)]
pub struct RateLimiter {
    windows: Arc<Mutex<HashMap<String, Window>>>,
    /// PostgreSQL: the shared counter.
    shared: Option<Db>,
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset_secs: u64,
    pub allowed: bool,
}

impl Quota {
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let policy = format!("\"workspace\";q={};w={}", self.limit, WINDOW.as_secs());
        let current = format!("\"workspace\";r={};t={}", self.remaining, self.reset_secs);
        for (name, value) in [
            ("ratelimit-policy", policy),
            ("ratelimit", current),
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", self.reset_secs.to_string()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
}

impl RateLimiter {
    /// The limiter for `db`: shared through the database on PostgreSQL, in memory on SQLite.
    pub fn for_db(db: &Db) -> RateLimiter {
        RateLimiter { shared: (db.engine() == Engine::Postgres).then(|| db.clone()), ..RateLimiter::default() }
    }

    /// Counts one request of `workspace_id` against `limit` per minute.
    pub async fn check(&self, workspace_id: &str, limit: u64) -> Quota {
        if let Some(db) = &self.shared {
            match count_shared(db, workspace_id, limit, now_ms()).await {
                Ok(quota) => return quota,
                Err(e) => tracing::warn!(error = %e, "the shared rate limit could not be counted; counting in this process"),
            }
        }
        self.check_at(workspace_id, limit, Instant::now())
    }

    fn check_at(&self, workspace_id: &str, limit: u64, now: Instant) -> Quota {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if !windows.contains_key(workspace_id) {
            windows.insert(workspace_id.to_string(), Window { started: now, used: 0 });
        }
        let window = windows.get_mut(workspace_id).expect("inserted above");
        if now.duration_since(window.started) >= WINDOW {
            *window = Window { started: now, used: 0 };
        }
        let allowed = window.used < limit;
        if allowed {
            window.used += 1;
        }
        let elapsed = now.duration_since(window.started);
        let reset_secs = (WINDOW.saturating_sub(elapsed).as_millis() as u64).div_ceil(1000).max(1);
        Quota { limit, remaining: limit.saturating_sub(window.used), reset_secs, allowed }
    }
}

/// One request in the workspace's row for the current minute (all processes share it).
async fn count_shared(db: &Db, workspace_id: &str, limit: u64, now: i64) -> Result<Quota, sqlx::Error> {
    let window_ms = WINDOW.as_millis() as i64;
    let window_start = now - now.rem_euclid(window_ms);
    let used: i64 = sqlx::query_scalar(
        "INSERT INTO rate_limit_windows (workspace_id, window_start, used) VALUES ($1, $2, 1) \
         ON CONFLICT (workspace_id, window_start) DO UPDATE SET used = rate_limit_windows.used + 1 RETURNING used",
    )
    .bind(workspace_id)
    .bind(window_start)
    .fetch_one(db.pool())
    .await?;
    let used = used.max(0) as u64;
    let reset_secs = ((window_start + window_ms - now).max(0) as u64).div_ceil(1000).max(1);
    Ok(Quota { limit, remaining: limit.saturating_sub(used), reset_secs, allowed: used <= limit })
}

/// Deletes the shared windows that are over (workers call it every minute).
pub async fn delete_past_windows(db: &Db) -> Result<(), sqlx::Error> {
    let before = now_ms() - 2 * WINDOW.as_millis() as i64;
    sqlx::query("DELETE FROM rate_limit_windows WHERE window_start < $1").bind(before).execute(db.pool()).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_per_workspace_and_resets_each_minute() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        for i in 0..3 {
            let quota = limiter.check_at("ws_a", 3, start);
            assert!(quota.allowed);
            assert_eq!(quota.remaining, 2 - i);
        }
        let refused = limiter.check_at("ws_a", 3, start + Duration::from_secs(20));
        assert!(!refused.allowed);
        assert_eq!(refused.reset_secs, 40);
        assert!(limiter.check_at("ws_b", 3, start).allowed, "another workspace has its own budget");
        assert!(limiter.check_at("ws_a", 3, start + Duration::from_secs(61)).allowed);
    }

    #[test]
    fn headers_follow_the_ietf_draft_and_the_legacy_names() {
        let mut headers = HeaderMap::new();
        Quota { limit: 600, remaining: 599, reset_secs: 42, allowed: true }.write_headers(&mut headers);
        assert_eq!(headers["ratelimit-policy"], "\"workspace\";q=600;w=60");
        assert_eq!(headers["ratelimit"], "\"workspace\";r=599;t=42");
        assert_eq!(headers["ratelimit-limit"], "600");
        assert_eq!(headers["ratelimit-remaining"], "599");
        assert_eq!(headers["ratelimit-reset"], "42");
    }
}
