//! The durable job queue (SPEC §5.1): a table that workers lease from.
//!
//! A lease marks a job as taken until `leased_until`; a worker that crashes simply lets
//! its lease run out and another worker takes the job again, so handlers must be
//! idempotent. Failures are retried with exponential backoff up to `max_attempts`,
//! then the job stays in the table with `failed_at` set, visible to the operator.
//! PostgreSQL leases with `FOR UPDATE SKIP LOCKED`, so workers never wait on each
//! other; SQLite has a single writer, and leasing inside `BEGIN IMMEDIATE` is the
//! equivalent.

mod run_pending;

pub use run_pending::{run_pending, Drained};

use crate::store::{ids::new_id, now_ms, Db, Engine};
use serde_json::Value;
use sqlx::Row;

/// A leased job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub payload: Value,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Queue health for `/metrics` and the dashboard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    /// Jobs waiting or running (not failed for good).
    pub depth: i64,
    /// Age of the oldest such job, in seconds.
    pub oldest_age_secs: f64,
    /// Jobs that exhausted their attempts.
    pub failed: i64,
}

/// Enqueues a job inside `tx` (the transaction of the change that needs it).
pub async fn enqueue(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    kind: &str,
    payload: &Value,
    run_at: i64,
    max_attempts: i64,
) -> Result<String, sqlx::Error> {
    let (id, statement) = enqueue_statement(kind, payload, run_at, max_attempts);
    statement.execute(&mut **tx).await?;
    Ok(id)
}

/// The insert of a new job and its id, to run in a [`crate::store::batch::Batch`].
pub fn enqueue_statement(kind: &str, payload: &Value, run_at: i64, max_attempts: i64) -> (String, crate::store::batch::Statement) {
    let id = new_id("job");
    let statement =
        crate::store::batch::Statement::new("INSERT INTO jobs (id, kind, payload, run_at, max_attempts, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&id)
            .bind(kind)
            .bind(payload.to_string())
            .bind(run_at)
            .bind(max_attempts)
            .bind(now_ms());
    (id, statement)
}

/// Leases up to `limit` due jobs of `kinds` for `lease_ms`.
pub async fn lease(db: &Db, worker: &str, kinds: &[&str], limit: i64, lease_ms: i64) -> Result<Vec<Job>, sqlx::Error> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let kind_list: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 5)).collect();
    let select = format!(
        "SELECT id FROM jobs WHERE failed_at IS NULL AND run_at <= $1 AND (leased_until IS NULL OR leased_until < $1) AND kind IN ({}) ORDER BY run_at LIMIT $2{}",
        kind_list.join(", "),
        if db.engine() == Engine::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" }
    );
    let sql = format!(
        "UPDATE jobs SET leased_until = $3, leased_by = $4, attempts = attempts + 1 WHERE id IN ({select}) \
         RETURNING id, kind, payload, attempts, max_attempts"
    );
    let mut tx = db.begin_write().await?;
    let mut query = sqlx::query(&sql).bind(now).bind(limit).bind(now + lease_ms).bind(worker);
    for kind in kinds {
        query = query.bind(*kind);
    }
    let rows = query.fetch_all(&mut *tx).await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let kind: String = r.try_get("kind")?;
        let payload: String = r.try_get("payload")?;
        match serde_json::from_str(&payload) {
            Ok(payload) => jobs.push(Job { id, kind, payload, attempts: r.try_get("attempts")?, max_attempts: r.try_get("max_attempts")? }),
            // No handler could do anything sensible with it: failed for good, in sight
            // of the operator (`failed_at`, `last_error`, the failed-jobs gauge).
            Err(e) => {
                tracing::error!(job = %id, kind = %kind, error = %e, "a job's payload is not JSON; it is marked failed");
                sqlx::query("UPDATE jobs SET leased_until = NULL, leased_by = NULL, failed_at = $1, last_error = $2 WHERE id = $3")
                    .bind(now)
                    .bind(format!("corrupt payload: {e}"))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(jobs)
}

/// Removes a finished job (only while this worker still holds it).
pub async fn complete<'e, E>(executor: E, job_id: &str, worker: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    complete_statement(job_id, worker).execute(executor).await
}

/// [`complete`] as a statement for a [`crate::store::batch::Batch`].
pub fn complete_statement(job_id: &str, worker: &str) -> crate::store::batch::Statement {
    crate::store::batch::Statement::new("DELETE FROM jobs WHERE id = $1 AND leased_by = $2").bind(job_id).bind(worker)
}

/// Backoff before attempt `attempts + 1`: 1 s, 2 s, 4 s… capped at 5 minutes, ±20 %.
pub fn backoff_ms(attempts: i64) -> i64 {
    use rand::Rng;
    let base = 1000i64.saturating_mul(1 << attempts.clamp(0, 9)).min(300_000);
    let jitter = rand::thread_rng().gen_range(-(base / 5)..=(base / 5));
    base + jitter
}

/// Records a failed attempt: retried after `retry_in_ms`, or failed for good once the
/// attempts are spent. Returns whether it was the last attempt.
pub async fn fail<'e, E>(executor: E, job: &Job, worker: &str, error: &str, retry_in_ms: i64) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    fail_statement(job, worker, error, retry_in_ms).execute(executor).await?;
    Ok(job.attempts >= job.max_attempts)
}

/// [`fail`] as a statement for a [`crate::store::batch::Batch`].
pub fn fail_statement(job: &Job, worker: &str, error: &str, retry_in_ms: i64) -> crate::store::batch::Statement {
    let last = job.attempts >= job.max_attempts;
    let now = now_ms();
    crate::store::batch::Statement::new(
        "UPDATE jobs SET leased_until = NULL, leased_by = NULL, last_error = $1, run_at = $2, failed_at = $3 WHERE id = $4 AND leased_by = $5",
    )
    .bind(error.chars().take(2000).collect::<String>())
    .bind(now + retry_in_ms)
    .bind(last.then_some(now))
    .bind(&job.id)
    .bind(worker)
}

/// Records a failed attempt and schedules another whatever the attempts so far: for a
/// job whose handler must still run to its end (the pipeline gives up in the next run,
/// see [`crate::pipeline::give_up`]), never marked failed for good.
pub async fn postpone<'e, E>(executor: E, job: &Job, worker: &str, error: &str, retry_in_ms: i64) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("UPDATE jobs SET leased_until = NULL, leased_by = NULL, last_error = $1, run_at = $2 WHERE id = $3 AND leased_by = $4")
        .bind(error.chars().take(2000).collect::<String>())
        .bind(now_ms() + retry_in_ms)
        .bind(&job.id)
        .bind(worker)
        .execute(executor)
        .await?;
    Ok(())
}

pub async fn stats(db: &Db) -> Result<QueueStats, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*) AS depth, MIN(created_at) AS oldest FROM jobs WHERE failed_at IS NULL").fetch_one(db.pool()).await?;
    let failed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE failed_at IS NOT NULL").fetch_one(db.pool()).await?;
    let oldest: Option<i64> = row.try_get("oldest")?;
    Ok(QueueStats { depth: row.try_get("depth")?, oldest_age_secs: oldest.map(|o| (now_ms() - o).max(0) as f64 / 1000.0).unwrap_or(0.0), failed })
}
