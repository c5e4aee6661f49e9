//! Background work, inside `attest serve` and in `attest worker` processes: the durable
//! job queue (webhook deliveries today; the document pipeline joins it) and removal of
//! expired sessions.

use app::{auth::session_store::DbSessionStore, jobs, state::AppState, store::ids::new_id};
use std::time::Duration;
use tokio::task::JoinSet;
use tower_sessions::session_store::ExpiredDeletion;

/// Jobs leased per round.
const BATCH: i64 = 64;
/// How long a lease lasts: longer than the slowest handler (webhook timeout + margin).
const LEASE_MS: i64 = 120_000;
/// Idle polling, for jobs enqueued by other processes.
const POLL: Duration = Duration::from_millis(250);

/// Runs until the task is dropped.
pub async fn run(state: AppState) {
    tokio::select! {
        _ = delete_expired_sessions(state.clone()) => {}
        _ = run_jobs(state) => {}
    }
}

async fn run_jobs(state: AppState) {
    let worker = new_id("wrk");
    loop {
        match jobs::lease(&state.db, &worker, &app::webhooks::deliver::KINDS, BATCH, LEASE_MS).await {
            Ok(batch) if !batch.is_empty() => {
                let (deliveries, others): (Vec<_>, Vec<_>) = batch.into_iter().partition(|j| j.kind == app::webhooks::service::DELIVER_JOB);
                let mut running = JoinSet::new();
                if !deliveries.is_empty() {
                    let (state, worker) = (state.clone(), worker.clone());
                    running.spawn(async move {
                        if let Err(e) = app::webhooks::deliver::run_batch(&state, &state.deliverer, deliveries, &worker).await {
                            // Unrecorded outcomes: the leases run out and the jobs run again.
                            tracing::error!(error = %e, "recording webhook deliveries failed");
                        }
                    });
                }
                for job in others {
                    let (state, worker) = (state.clone(), worker.clone());
                    running.spawn(async move { handle(&state, &job, &worker).await });
                }
                while running.join_next().await.is_some() {}
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "leasing jobs failed"),
        }
        tokio::select! {
            _ = state.db.jobs_ready() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[tracing::instrument(skip_all, fields(job = %job.id, kind = %job.kind))]
async fn handle(state: &AppState, job: &jobs::Job, worker: &str) {
    let result: Result<(), app::error::AppError> = Err(app::error::AppError::internal("job", format!("no handler for {}", job.kind)));
    if let Err(e) = result {
        tracing::warn!(error = %e, attempt = job.attempts, "job failed; it will be retried");
        if let Err(e) = jobs::fail(state.db.pool(), job, worker, &e.to_string(), jobs::backoff_ms(job.attempts)).await {
            tracing::error!(error = %e, "recording a job failure failed");
        }
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
    }
}
