//! Several `attest` processes on one PostgreSQL database: migrations that start at once,
//! the rate limit shared by every process, job wake-ups and cache changes carried by
//! `LISTEN/NOTIFY`. A "process" here is its own connection pool, listener and server,
//! as a second `attest serve` or `attest worker` would have.

use crate::{
    both_engines,
    helpers::{fresh_postgres_database, postgres_available, Engine, TestApp},
    s3::other_process,
    support::{attest, failed, spawn, Serving},
};
use app::{access::Actor, store::Db};
use std::time::{Duration, Instant};

/// A second server on `app`'s database, with its own pool, listener and data directory.
async fn second_server(app: &TestApp, data_dir: &std::path::Path) -> (String, Db) {
    let config = other_process(app, data_dir, &[("ATTEST_WORKERS".into(), "false".into())]);
    let db = server::startup::open_database(&config).await.unwrap();
    let state = server::startup::app_state(&config, db.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { server::startup::serve_configured(listener, state, &config, std::future::pending()).await });
    (address, db)
}

/// Several processes starting together on a fresh database all migrate successfully:
/// one applies the migrations under the advisory lock, the others wait and find them done.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrators_on_a_fresh_database_all_succeed() {
    if !postgres_available("scale::concurrent_migrators_on_a_fresh_database_all_succeed") {
        return;
    }
    let url = fresh_postgres_database().await;
    // Six pools, each with its own connections, migrating at the same time.
    let migrators = (0..6).map(|_| async {
        let db = Db::connect(&url).await.unwrap();
        let result = db.migrate().await;
        db.close().await;
        result
    });
    for result in futures::future::join_all(migrators).await {
        result.expect("every concurrent migrator succeeds");
    }
    let db = Db::connect(&url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(db.pool()).await.unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/postgres")).unwrap().count() as i64;
    assert_eq!(applied, files, "each migration applied exactly once");
    db.close().await;
}

/// Two servers on one PostgreSQL database share the workspace's budget: N requests over
/// the limit are refused across the pair, not N per process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_across_two_servers_on_one_database() {
    if !postgres_available("scale::the_rate_limit_holds_across_two_servers_on_one_database") {
        return;
    }
    let app = TestApp::spawn(Engine::Postgres).await;
    let api = app.api("acme").await;
    app::workspaces::service::set_rate_limit(&app.db, "acme", 4, &Actor::Operator).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (other, _other_db) = second_server(&app, dir.path()).await;
    // The budget is per minute: start well inside one.
    let into_minute = app::store::now_ms() % 60_000;
    if into_minute > 50_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into_minute + 200) as u64)).await;
    }
    let call = |base: &str| app.client.get(format!("{base}/api/v1/usps1583/verifications")).bearer_auth(&api.token).send();
    let mut statuses = Vec::new();
    for i in 0..6 {
        let base = if i % 2 == 0 { app.address.clone() } else { other.clone() };
        statuses.push(call(&base).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "4 a minute across both servers");
}

/// A new job wakes the workers of another process at once (`NOTIFY attest_jobs`), not
/// at their next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_job_wakes_the_workers_of_another_process() {
    if !postgres_available("scale::a_new_job_wakes_the_workers_of_another_process") {
        return;
    }
    let url = fresh_postgres_database().await;
    let web = Db::connect(&url).await.unwrap();
    web.migrate().await.unwrap();
    let worker = Db::connect(&url).await.unwrap();
    worker.listen().await;
    let woken = tokio::spawn({
        let worker = worker.clone();
        async move { worker.pipeline_ready().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    web.wake_workers();
    tokio::time::timeout(Duration::from_secs(5), woken).await.expect("the other process's worker is woken").unwrap();
    eprintln!("cross-process wake-up after {:?}", started.elapsed());
}

/// A token revoked through one server is refused by another server on its very next
/// request, with a warm token cache on SQLite (the epoch file) and on PostgreSQL (read
/// every time).
async fn a_revoke_on_one_server_is_refused_by_the_other_at_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let (other, _other_db) = second_server(&app, dir.path()).await;
    let call = || app.client.get(format!("{other}/api/v1/usps1583/verifications")).bearer_auth(&api.token).send();
    for _ in 0..3 {
        assert_eq!(call().await.unwrap().status(), 200, "cached now");
    }
    let token_id: String = sqlx::query_scalar("SELECT id FROM api_tokens").fetch_one(app.db.pool()).await.unwrap();
    let workspace_id: String = sqlx::query_scalar("SELECT workspace_id FROM api_tokens").fetch_one(app.db.pool()).await.unwrap();
    let started = Instant::now();
    app::access::tokens::revoke(&app.db, &workspace_id, &token_id, &Actor::Operator).await.unwrap();
    let response = call().await.unwrap();
    eprintln!("revoke → refused by the other server: {:?}", started.elapsed());
    assert_eq!(response.status(), 401, "the revoked token is refused by the other process on its next request");
}
both_engines!(a_revoke_on_one_server_is_refused_by_the_other_at_once);

/// The two tiers as separate binaries: `attest serve --no-workers` takes requests and
/// leaves a submitted verification alone; an `attest worker --concurrency 1` started
/// later decides it. A concurrency outside 1–256 is refused, naming the flag.
async fn the_web_tier_leaves_jobs_to_the_worker_tier(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let (data_dir, url) = (app.config.data_dir.clone(), app.config.database_url().to_string());
    let models = std::env::var("ATTEST_MODELS_DIR").unwrap_or_default();
    let env = [("ATTEST_MODELS_DIR", models.as_str())];
    let web = Serving::start_with(&data_dir, &url, &["serve", "--no-workers"], &env).await;
    let (id, _) = api.submitted("tiers").await;
    let status = |base: String| {
        let (client, token, id) = (app.client.clone(), api.token.clone(), id.clone());
        async move {
            let v: serde_json::Value =
                client.get(format!("{base}/api/v1/usps1583/verifications/{id}")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
            v["status"].as_str().unwrap().to_string()
        }
    };
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(status(web.base.clone()).await, "submitted", "the web tier runs no pipeline");
    let leased: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE leased_by IS NOT NULL").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(leased, 0, "nor leases any job");

    let refused = failed(&attest(&data_dir, &url, &["worker", "--concurrency", "0"], &env));
    assert!(refused.contains("--concurrency"), "{refused}");
    let _worker = spawn(&data_dir, &url, &["worker", "--concurrency", "1"], &env);
    let started = Instant::now();
    while status(web.base.clone()).await == "submitted" {
        assert!(started.elapsed() < Duration::from_secs(60), "the worker process decides it");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status(web.base.clone()).await, "needs_review", "synthetic documents extract nothing: a reviewer decides");
}
both_engines!(the_web_tier_leaves_jobs_to_the_worker_tier);
