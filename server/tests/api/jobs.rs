//! The job queue keeps what it cannot run in sight instead of guessing.

use crate::{both_engines, helpers::*};

async fn a_corrupt_job_payload_fails_the_job_in_sight(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let now = app::store::now_ms();
    for (id, payload) in [("job_corrupt", "{not json"), ("job_sound", "{\"n\": 1}")] {
        sqlx::query("INSERT INTO jobs (id, kind, payload, run_at, max_attempts, created_at) VALUES ($1, 'probe', $2, $3, 5, $3)")
            .bind(id)
            .bind(payload)
            .bind(now - 1000)
            .execute(app.db.pool())
            .await
            .unwrap();
    }
    let leased = app::jobs::lease(&app.db, "wrk_probe", &["probe"], 10, 60_000).await.unwrap();
    assert_eq!(leased.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["job_sound"], "only the readable job is handed to a handler");
    assert_eq!(leased[0].payload["n"], 1);
    let (failed_at, error): (Option<i64>, Option<String>) =
        sqlx::query_as("SELECT failed_at, last_error FROM jobs WHERE id = 'job_corrupt'").fetch_one(app.db.pool()).await.unwrap();
    assert!(failed_at.is_some(), "the corrupt job is failed for good");
    assert!(error.unwrap_or_default().starts_with("corrupt payload"), "with its cause");
    assert_eq!(app::jobs::stats(&app.db).await.unwrap().failed, 1, "and counted where operators look");
    assert!(app::jobs::lease(&app.db, "wrk_probe", &["probe"], 10, 60_000).await.unwrap().is_empty(), "it is never leased again");
}
both_engines!(a_corrupt_job_payload_fails_the_job_in_sight);
