//! The database: one pool over SQLite (embedded default) or PostgreSQL (scale-out).
//!
//! SQL is kept portable (`$1` placeholders work on both engines, timestamps are
//! Unix milliseconds in `BIGINT`, ids are prefixed `TEXT`), so one query serves both;
//! the few engine-specific statements ask [`Db::engine`]. Each engine has its own
//! migration directory, run at start-up.

pub mod batch;
pub mod cache;
pub mod constraint;
pub mod filter;
pub mod ids;
mod signals;

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    AnyPool, Executor,
};
use std::{str::FromStr, time::Duration};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// The advisory lock key migrations hold on PostgreSQL (`attest` in ASCII).
const MIGRATION_LOCK: i64 = 0x6174_7465_7374;

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
    /// other processes are woken by `NOTIFY` on PostgreSQL (see [`Db::listen`]) and
    /// otherwise find them by polling.
    jobs_ready: std::sync::Arc<tokio::sync::Notify>,
    /// The same signal for the pipeline's loop (each loop keeps its own permit).
    pipeline_ready: std::sync::Arc<tokio::sync::Notify>,
    /// Small, rarely changed reads (API tokens, flow configuration, webhook subscribers), see [`Db::cached`].
    cache: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, CacheEntry>>>,
    /// PostgreSQL: `LISTEN/NOTIFY` between processes (job wake-ups).
    signals: Option<std::sync::Arc<signals::Signals>>,
    /// SQLite file: tells that nothing was committed since `versions` was read.
    commit_probe: Option<cache::CommitProbe>,
    /// The cache versions last read, see [`LastVersions`].
    versions: std::sync::Arc<std::sync::Mutex<Option<LastVersions>>>,
    /// SQLite: a connection of its own for reading the versions, so that the check does
    /// not queue for a pooled connection behind the requests' own queries; one reader at
    /// a time, and a reader that waited finds the read it waited for.
    versions_reader: Option<std::sync::Arc<tokio::sync::Mutex<VersionsReader>>>,
    /// The master key personal data is sealed with ([`crate::documents::pii`]), set once
    /// by the application state.
    pii_key: std::sync::Arc<std::sync::OnceLock<crate::documents::crypto::MasterKey>>,
}

/// The cache versions last read: when the read began, and the commit mark taken just
/// before it (SQLite files only).
#[derive(Debug)]
struct LastVersions {
    mark: Option<cache::CommitMark>,
    read_at: std::time::Instant,
    versions: std::sync::Arc<cache::Versions>,
}

/// The connection of [`Db::versions_reader`], opened on first use and again after an error.
#[derive(Debug)]
struct VersionsReader {
    url: String,
    connection: Option<sqlx::AnyConnection>,
}

impl VersionsReader {
    async fn read(&mut self) -> Result<cache::Versions, sqlx::Error> {
        use sqlx::Connection;
        if self.connection.is_none() {
            let mut connection = sqlx::AnyConnection::connect(&self.url).await?;
            connection.execute("PRAGMA busy_timeout = 5000;").await?;
            self.connection = Some(connection);
        }
        let connection = self.connection.as_mut().expect("connected above");
        let read = cache::Versions::read(connection).await;
        if read.is_err() {
            self.connection = None;
        }
        read
    }
}

/// One value of [`Db::cached`].
#[derive(Clone)]
struct CacheEntry {
    epoch: u64,
    read_at: std::time::Instant,
    value: std::sync::Arc<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for CacheEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheEntry").field("epoch", &self.epoch).finish_non_exhaustive()
    }
}

/// Cached values are read again after this even when no change was seen (a safety net
/// for hand edits of the database).
const CACHE_MAX_AGE: Duration = Duration::from_secs(60);

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
            return Err(sqlx::Error::Configuration("DATABASE_URL must start with sqlite: or postgres:".into()));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let pool = match engine {
            Engine::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(4)
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
            Engine::Postgres => AnyPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect_with(options).await?,
        };
        let signals = (engine == Engine::Postgres).then(|| std::sync::Arc::new(signals::Signals::new(url)));
        let commit_probe = (engine == Engine::Sqlite).then(|| cache::CommitProbe::for_url(url)).flatten();
        let versions_reader =
            commit_probe.as_ref().map(|_| std::sync::Arc::new(tokio::sync::Mutex::new(VersionsReader { url: url.to_string(), connection: None })));
        Ok(Db {
            pool,
            engine,
            jobs_ready: Default::default(),
            pipeline_ready: Default::default(),
            cache: Default::default(),
            signals,
            commit_probe,
            versions: Default::default(),
            versions_reader,
            pii_key: Default::default(),
        })
    }

    /// Seals personal data written through this database with `master` (the instance's
    /// master key; the first one set stays).
    pub fn use_master_key(&self, master: &crate::documents::crypto::MasterKey) {
        crate::documents::pii::remember(master);
        let _ = self.pii_key.set(master.clone());
    }

    /// `json` sealed for storage in a personal-data column ([`crate::documents::pii`]).
    pub fn seal_pii(&self, json: &str) -> Result<String, crate::error::AppError> {
        let master = self.pii_key.get().ok_or_else(|| crate::error::AppError::internal("personal data", "no master key for this database"))?;
        Ok(crate::documents::pii::seal(master, json))
    }

    /// Applies the pending migrations of this engine. A failure must stop the process.
    ///
    /// On PostgreSQL several processes may start at once (a rolling deploy, web and
    /// worker tiers together): the whole run holds a session-level advisory lock, so one
    /// process migrates while the others wait and then find nothing left to do.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await,
            Engine::Postgres => {
                let mut conn = self.pool.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
                let result = POSTGRES_MIGRATIONS.run(&mut *conn).await;
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await;
                if unlocked.is_err() {
                    // The lock dies with the session: never hand a locked connection back.
                    conn.detach();
                }
                result
            }
        }
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so concurrent writers wait on `busy_timeout` instead of
    /// failing when a read-then-write transaction cannot upgrade its lock.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        cache::note_write();
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }

    /// Call after committing a transaction that enqueued jobs. On PostgreSQL the workers
    /// of every other process are woken too (`NOTIFY attest_jobs`).
    pub fn wake_workers(&self) {
        self.jobs_ready.notify_one();
        self.pipeline_ready.notify_one();
        if self.signals.is_some() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let pool = self.pool.clone();
                runtime.spawn(async move {
                    if let Err(e) = sqlx::query("SELECT pg_notify($1, '')").bind(signals::JOBS).execute(&pool).await {
                        tracing::debug!(error = %e, "NOTIFY attest_jobs failed; other processes poll");
                    }
                });
            }
        }
    }

    /// PostgreSQL: starts listening for other processes' job wake-ups (`attest_jobs`);
    /// polling stays the fallback. Resolves once the listener is connected. Does nothing
    /// on SQLite.
    pub async fn listen(&self) {
        let Some(signals) = &self.signals else { return };
        let (jobs, pipeline) = (self.jobs_ready.clone(), self.pipeline_ready.clone());
        signals
            .start(move || {
                jobs.notify_one();
                pipeline.notify_one();
            })
            .await;
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

    /// `load()`'s value for `key` of `kind`, kept in memory until a table it is read from
    /// changes ([`cache::Cached::tables`]). The version compared is kept by database
    /// triggers on those tables (`cache_versions`), so any write by anyone invalidates it,
    /// and it is checked with each use, so every process sees a change on its next read,
    /// with no notification to wait for. On PostgreSQL the check is one query; on a SQLite
    /// file it is a look at the wal-index header, with the query only after a commit
    /// ([`cache::CommitProbe`]). If the version cannot be read, the value is read instead.
    pub async fn cached<V, E, F, Fut>(&self, kind: cache::Cached, key: &str, load: F) -> Result<V, E>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let Some(epoch) = self.cache_version(kind).await else { return load().await };
        let key = format!("{}/{key}", kind.name());
        {
            let entries = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = entries.get(&key).filter(|e| e.epoch == epoch && e.read_at.elapsed() < CACHE_MAX_AGE) {
                if let Some(value) = entry.value.downcast_ref::<V>() {
                    return Ok(value.clone());
                }
            }
        }
        let value = load().await?;
        let mut entries = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= 10_000 {
            entries.clear();
        }
        entries.insert(key, CacheEntry { epoch, read_at: std::time::Instant::now(), value: std::sync::Arc::new(value.clone()) });
        Ok(value)
    }

    /// The version of `kind`'s tables: from the last read when it began inside the
    /// current request ([`cache::in_request`]) or nothing was committed since
    /// ([`cache::CommitProbe`]), else read now.
    async fn cache_version(&self, kind: cache::Cached) -> Option<u64> {
        let request_started = cache::request_started();
        if let Some(version) = self.known_version(kind, request_started) {
            return Some(version);
        }
        let read = match &self.versions_reader {
            Some(reader) => {
                let mut reader = reader.lock().await;
                // Another task may have read them while this one waited.
                if let Some(version) = self.known_version(kind, request_started) {
                    return Some(version);
                }
                self.read_versions(reader.read()).await
            }
            None => self.read_versions(cache::Versions::read(&self.pool)).await,
        };
        match read {
            Ok(version) => Some(version.of(kind)),
            Err(e) => {
                tracing::warn!(error = %e, "reading the cache versions failed; reading through");
                None
            }
        }
    }

    /// The version of `kind` without a query, when the last read still holds.
    fn known_version(&self, kind: cache::Cached, request_started: Option<std::time::Instant>) -> Option<u64> {
        let last = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let last = last.as_ref()?;
        if request_started.is_some_and(|started| last.read_at >= started) {
            return Some(last.versions.of(kind));
        }
        let mark = self.commit_probe.as_ref().and_then(cache::CommitProbe::mark);
        (mark.is_some() && last.mark == mark).then(|| last.versions.of(kind))
    }

    /// Runs `read` and keeps its result as the last read (unless a newer one is kept).
    async fn read_versions(
        &self,
        read: impl std::future::Future<Output = Result<cache::Versions, sqlx::Error>>,
    ) -> Result<std::sync::Arc<cache::Versions>, sqlx::Error> {
        // The mark first, then the read: a commit in between changes the mark again, so
        // the pair kept is never newer in its mark than in its versions.
        let mark = self.commit_probe.as_ref().and_then(cache::CommitProbe::mark);
        let read_at = std::time::Instant::now();
        let versions = std::sync::Arc::new(read.await?);
        let mut last = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_ref().is_none_or(|l| l.read_at <= read_at) {
            *last = Some(LastVersions { mark, read_at, versions: versions.clone() });
        }
        Ok(versions)
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

pub use constraint::{is_unique_violation, unique_violation, Unique};
