//! Background work that runs inside `attest serve` and in `attest worker` processes.
//! Today: removing expired sessions. The durable job queue joins here.

use app::{auth::session_store::DbSessionStore, store::Db};
use std::time::Duration;
use tower_sessions::session_store::ExpiredDeletion;

/// Runs until the task is dropped.
pub async fn run(db: Db) {
    let store = DbSessionStore::new(db);
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "deleting expired sessions failed");
        }
    }
}
