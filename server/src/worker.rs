//! Background work, inside `attest serve` and in `attest worker` processes: the durable
//! job queue (webhook deliveries and the document pipeline), the daily compliance jobs,
//! and removal of expired sessions and idempotency records.

use app::{auth::session_store::DbSessionStore, jobs, state::AppState, store::ids::new_id};
use std::time::Duration;
use tokio::task::JoinSet;
use tower_sessions::session_store::ExpiredDeletion;

/// Webhook deliveries leased per round (I/O-bound: many at once).
const DELIVERY_BATCH: i64 = 64;
/// Idle polling, for jobs enqueued by other processes.
const POLL: Duration = Duration::from_millis(250);

/// How a worker runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Verifications processed at once (`attest worker --concurrency N`); default: one
    /// per CPU core, since the pipeline is CPU-bound.
    pub pipeline_slots: Option<usize>,
}

impl Options {
    pub fn slots(&self) -> usize {
        self.pipeline_slots.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)).max(1)
    }
}

/// Runs until the task is dropped.
pub async fn run(state: AppState) {
    run_with(state, Options::default()).await
}

/// [`run`] with explicit [`Options`].
pub async fn run_with(state: AppState, options: Options) {
    tokio::select! {
        _ = delete_expired_sessions(state.clone()) => {}
        _ = run_deliveries(state.clone()) => {}
        _ = run_pipeline(state.clone(), options.slots() as i64) => {}
        _ = run_daily(state) => {}
    }
}

/// First seals personal data left in plain text by an older version; then once a
/// minute, from a minute after start: claims today's photo-ID expiry check and
/// retention run (one
/// process wins the day, see [`app::compliance::expiry::schedule_daily`]) and runs the
/// due compliance jobs.
async fn run_daily(state: AppState) {
    let worker = new_id("wrk");
    match app::documents::pii::seal_plaintext_rows(&state.db, &state.files.master).await {
        Ok(0) => {}
        Ok(sealed) => tracing::info!(sealed, "personal data stored before sealing existed is now sealed"),
        Err(e) => tracing::warn!(error = %e, "sealing personal data stored before sealing existed failed"),
    }
    let minute = Duration::from_secs(60);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + minute, minute);
    loop {
        tick.tick().await;
        if let Err(e) = app::compliance::expiry::schedule_daily(&state.db, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "scheduling the photo-ID expiry check failed");
        }
        match jobs::lease(&state.db, &worker, &app::compliance::expiry::DAILY_JOBS, 1, state.settings.job_lease_ms).await {
            Ok(batch) => {
                for job in batch {
                    app::compliance::expiry::run_leased(&state, &job, &worker).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "leasing compliance jobs failed"),
        }
    }
}

/// Waits for new work: a wake-up from this process, or the poll interval.
async fn idle(state: &AppState) {
    tokio::select! {
        _ = state.db.jobs_ready() => {}
        _ = tokio::time::sleep(POLL) => {}
    }
}

async fn run_deliveries(state: AppState) {
    let worker = new_id("wrk");
    loop {
        match jobs::lease(&state.db, &worker, &app::webhooks::deliver::KINDS, DELIVERY_BATCH, state.settings.job_lease_ms).await {
            Ok(batch) if !batch.is_empty() => {
                if let Err(e) = app::webhooks::deliver::run_batch(&state, &state.deliverer, batch, &worker).await {
                    // Unrecorded outcomes: the leases run out and the jobs run again.
                    tracing::error!(error = %e, "recording webhook deliveries failed");
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "leasing webhook jobs failed"),
        }
        idle(&state).await;
    }
}

/// The pipeline is CPU-bound: one verification per core at a time, each leased only
/// when a slot is free, so a lease never waits behind other work.
async fn run_pipeline(state: AppState, slots: i64) {
    let worker = new_id("wrk");
    let mut running = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let free = slots - running.len() as i64;
        if free > 0 {
            match jobs::lease(&state.db, &worker, &[app::pipeline::JOB], free, state.settings.job_lease_ms).await {
                Ok(batch) if !batch.is_empty() => {
                    for job in batch {
                        let (state, worker) = (state.clone(), worker.clone());
                        running.spawn(async move { process(&state, &job, &worker).await });
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "leasing pipeline jobs failed"),
            }
        }
        tokio::select! {
            _ = running.join_next(), if !running.is_empty() => {}
            _ = state.db.pipeline_ready() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[tracing::instrument(skip_all, fields(job = %job.id, verification = %job.payload["verification_id"]))]
async fn process(state: &AppState, job: &jobs::Job, worker: &str) {
    let started = std::time::Instant::now();
    // Failures are recorded (retried, or sent to review after the last attempt) inside;
    // one that cannot even be recorded lets the lease run out, and the job runs again.
    if app::pipeline::run(&state.db, &state.files, &state.pipeline, job, worker).await.is_ok() {
        tracing::info!(ms = started.elapsed().as_millis() as u64, "verification processed");
    }
}

async fn delete_expired_sessions(state: AppState) {
    let store = DbSessionStore::new(state.db.clone());
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "deleting expired sessions failed");
        }
        if let Err(e) = crate::api::delete_expired_idempotency_keys(&state.db).await {
            tracing::warn!(error = %e, "deleting expired idempotency keys failed");
        }
        if let Err(e) = crate::api::ratelimit::delete_past_windows(&state.db).await {
            tracing::warn!(error = %e, "deleting past rate-limit windows failed");
        }
    }
}
