//! The database: one pool over SQLite (embedded default) or PostgreSQL (scale-out).
//!
//! SQL is kept portable (`$1` placeholders work on both engines, timestamps are
//! Unix milliseconds in `BIGINT`, ids are prefixed `TEXT`), so one query serves both;
//! the few engine-specific statements ask [`Db::engine`]. Each engine has its own
//! migration directory, run at start-up.

pub mod batch;
pub mod ids;

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    AnyPool, Executor,
};
use std::{str::FromStr, time::Duration};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The shared connection pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
    /// Wakes this process's workers when a transaction has enqueued jobs; workers of
    /// other processes find them by polling.
    jobs_ready: std::sync::Arc<tokio::sync::Notify>,
    /// The same signal for the pipeline's loop (each loop keeps its own permit).
    pipeline_ready: std::sync::Arc<tokio::sync::Notify>,
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). SQLite files are created
    /// when missing and run in WAL mode with foreign keys on.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(sqlx::Error::Configuration(
                "DATABASE_URL must start with sqlite: or postgres:".into(),
            ));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let pool = match engine {
            Engine::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    // A local file cannot drop a connection: the default ping before every
                    // acquire would only add a round trip to the connection's thread.
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Engine::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?
            }
        };
        Ok(Db { pool, engine, jobs_ready: Default::default(), pipeline_ready: Default::default() })
    }

    /// Applies the pending migrations of this engine. A failure must stop the process.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await,
        }
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so concurrent writers wait on `busy_timeout` instead of
    /// failing when a read-then-write transaction cannot upgrade its lock.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }

    /// Call after committing a transaction that enqueued jobs.
    pub fn wake_workers(&self) {
        self.jobs_ready.notify_one();
        self.pipeline_ready.notify_one();
    }

    /// Resolves when [`Db::wake_workers`] is called (the pipeline's loop).
    pub async fn pipeline_ready(&self) {
        self.pipeline_ready.notified().await
    }

    /// Resolves when [`Db::wake_workers`] is called.
    pub async fn jobs_ready(&self) {
        self.jobs_ready.notified().await
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Whether a database error is a unique-constraint violation (to answer 409/422, not 500).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
