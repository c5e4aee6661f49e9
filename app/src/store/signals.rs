//! PostgreSQL: signals between the processes sharing the database, over `LISTEN/NOTIFY`.
//!
//! `attest_jobs`: a transaction enqueued jobs; every process's workers look at once
//! (polling stays as the fallback for a lost notification). The listener holds one
//! connection of its own and reconnects after a loss, waking the workers then since a
//! notification may have been missed.
//!
//! (The in-memory caches of [`super::Db::cached`] are not driven from here: a
//! notification arrives a moment after the commit, while a revoked token must be refused
//! on the very next request, so PostgreSQL keeps reading those values every time.)

use sqlx::postgres::PgListener;
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

pub(super) const JOBS: &str = "attest_jobs";

pub(super) struct Signals {
    /// The database URL, for the listener's own connection (never printed).
    url: String,
    started: AtomicBool,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals").field("started", &self.started).finish_non_exhaustive()
    }
}

impl Signals {
    pub(super) fn new(url: &str) -> Signals {
        Signals { url: url.to_string(), started: AtomicBool::new(false) }
    }

    /// Starts the listener task once; `wake` is called for each `attest_jobs`. It runs
    /// for the life of the process (the runtime).
    /// Resolves when the listener is connected (or after a few seconds without it).
    pub(super) async fn start(self: &Arc<Self>, wake: impl Fn() + Send + Sync + 'static) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
        let url = self.url.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                let mut listener = match PgListener::connect(&url).await {
                    Ok(listener) => listener,
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN connection failed; retrying (caches read the database meanwhile)");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(e) = listener.listen(JOBS).await {
                    tracing::warn!(error = %e, "LISTEN failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
                wake();
                loop {
                    match listener.try_recv().await {
                        // A notification, or a dropped connection that was re-established
                        // (a notification may have been lost): either way, look for work.
                        Ok(_) => wake(),
                        Err(e) => {
                            tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                            break;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(5), ready_rx).await;
    }
}
