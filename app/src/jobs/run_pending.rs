//! The queue driven to empty, here and now: every due job is run with the handlers the
//! workers use, one after another, until none is left due. Tests call it instead of
//! starting a worker and waiting for it, so what they assert follows a pass they saw end.

use super::lease;
use crate::{error::AppError, state::AppState, store::ids::new_id};

/// What one [`run_pending`] ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Pipeline jobs run (verifications processed, or a failure recorded for the retry).
    pub pipeline: usize,
    /// Of those, the ones that failed (retried later, or failed for good).
    pub pipeline_failed: usize,
    /// Webhook delivery jobs run (each outcome recorded, retries scheduled).
    pub deliveries: usize,
    /// Compliance jobs run (the daily photo-ID expiry check).
    pub compliance: usize,
    /// Retention runs (the daily redaction of what is due).
    pub retention: usize,
}

/// Runs every job that is due until none is: the pipeline's, then the deliveries they
/// and everything before them queued, again until a round finds nothing. A failed job
/// is rescheduled by its backoff (in the future), so it is not run again here, or, on
/// its last attempt, sends its verification to review, as in a worker; jobs due
/// later (retries, scheduled deliveries) are left for their time. Jobs another worker
/// holds are not touched: callers that want a deterministic pass run without
/// in-process workers (`ATTEST_WORKERS=false`).
pub async fn run_pending(state: &AppState) -> Result<Drained, AppError> {
    let worker = new_id("wrk");
    let lease_ms = state.settings.job_lease_ms;
    let mut drained = Drained::default();
    loop {
        let pipeline = lease(&state.db, &worker, &[crate::pipeline::JOB], 16, lease_ms).await?;
        let deliveries = lease(&state.db, &worker, &crate::webhooks::deliver::KINDS, 64, lease_ms).await?;
        let compliance = lease(&state.db, &worker, &crate::compliance::expiry::DAILY_JOBS, 4, lease_ms).await?;
        if pipeline.is_empty() && deliveries.is_empty() && compliance.is_empty() {
            return Ok(drained);
        }
        for job in compliance {
            if job.kind == crate::compliance::retention::JOB {
                drained.retention += 1;
            } else {
                drained.compliance += 1;
            }
            crate::compliance::expiry::run_leased(state, &job, &worker).await;
        }
        for job in pipeline {
            drained.pipeline += 1;
            // The worker's own step: a failure is retried by its backoff, or sent to
            // review after the last attempt.
            if crate::pipeline::run(&state.db, &state.files, &state.pipeline, &job, &worker).await.is_err() {
                drained.pipeline_failed += 1;
            }
        }
        if !deliveries.is_empty() {
            drained.deliveries += deliveries.len();
            crate::webhooks::deliver::run_batch(state, &state.deliverer, deliveries, &worker).await?;
        }
    }
}
