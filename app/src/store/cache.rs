//! What a process keeps in memory between requests, and what invalidates it.
//!
//! Each cached kind names the tables its values are read from. Database triggers on
//! those tables (migration 0016) bump a version per table in `cache_versions` on every
//! insert, update or delete — whoever writes: a service, a CLI command, another process,
//! a hand edit — and on PostgreSQL also notify `attest_cache` at commit. So invalidation
//! is tied to the write itself; no writer has to remember to announce it. A kind whose
//! tables lack the triggers fails `every_cached_table_has_its_triggers`.

/// The kinds of cached reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cached {
    /// A token's identity by its hash (`api_tokens` joined with its workspace's rate limit).
    ApiToken,
    /// A workspace's configuration of one flow.
    FlowConfig,
    /// A workspace's active webhook endpoints.
    WebhookSubscribers,
}

impl Cached {
    pub const ALL: [Cached; 3] = [Cached::ApiToken, Cached::FlowConfig, Cached::WebhookSubscribers];

    /// Every table a value of this kind is read from.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Cached::ApiToken => &["api_tokens", "workspaces"],
            Cached::FlowConfig => &["flow_configs"],
            Cached::WebhookSubscribers => &["webhook_endpoints"],
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Cached::ApiToken => "api_token",
            Cached::FlowConfig => "flow_config",
            Cached::WebhookSubscribers => "webhook_subscribers",
        }
    }
}

tokio::task_local! {
    /// The request being served on this task, see [`in_request`].
    static REQUEST: RequestScope;
}

/// When the request began, and whether it has begun a write since.
struct RequestScope {
    started: std::time::Instant,
    wrote: std::sync::atomic::AtomicBool,
}

/// Runs `serve` (one request) so that its cached reads may share [`Versions`] read by any
/// task after the request began: the state at any moment inside the request is as good
/// as the state at its first read, so a request sent after a change (a revoke) still sees
/// it, and concurrent requests under write load share one versions read instead of one
/// each. Once the request begins a write ([`super::Db::begin_write`]) its reads check the
/// commit mark again, so it reads its own writes.
pub async fn in_request<F: std::future::Future>(serve: F) -> F::Output {
    REQUEST.scope(RequestScope { started: std::time::Instant::now(), wrote: false.into() }, serve).await
}

/// When the current request began, unless it has written since (or is no request).
pub(crate) fn request_started() -> Option<std::time::Instant> {
    REQUEST.try_with(|r| (!r.wrote.load(std::sync::atomic::Ordering::Relaxed)).then_some(r.started)).ok().flatten()
}

/// Called when the current task begins a write transaction.
pub(crate) fn note_write() {
    let _ = REQUEST.try_with(|r| r.wrote.store(true, std::sync::atomic::Ordering::Relaxed));
}

/// The version of each cached table (`cache_versions`), read in one query.
#[derive(Debug, Default)]
pub(crate) struct Versions(std::collections::HashMap<String, i64>);

impl Versions {
    pub(crate) async fn read<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(executor: E) -> Result<Versions, sqlx::Error> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT name, CAST(version AS BIGINT) FROM cache_versions").fetch_all(executor).await?;
        Ok(Versions(rows.into_iter().collect()))
    }

    /// `kind`'s version: the sum over its tables, as each only grows.
    pub(crate) fn of(&self, kind: Cached) -> u64 {
        kind.tables().iter().map(|table| self.0.get(*table).copied().unwrap_or(0)).sum::<i64>() as u64
    }
}

/// Tells, without a query, that nothing has been committed to a SQLite database since
/// it last looked, so the [`Versions`] read then still hold.
///
/// In WAL mode every commit, by any connection of any process, rewrites the wal-index
/// header at the start of the database's `-shm` file (its `iChange` counter, `mxFrame`
/// and salts; <https://www.sqlite.org/walformat.html>, "The WAL-Index Header"). Reading
/// those 96 bytes is two system calls, where the versions query is a round trip to a
/// pooled connection's thread, which cost a quarter of a cached API read's throughput.
/// Equal bytes mean no commit in between; any other outcome (a torn read, a rebuilt
/// file, no file) only makes the caller read the versions again. No crate exposes this
/// header, and sqlx's commit hooks need the raw SQLite handle (unsafe code).
///
/// The file is opened once per process and never closed: closing any descriptor of a
/// file drops every POSIX lock the process holds on it, SQLite's own locks on the
/// `-shm` included, after which another process may rebuild the file under this one's
/// memory map (SIGBUS). When SQLite replaces the file (all connections closed), the
/// old descriptor is kept open and the new file opened.
#[derive(Debug, Clone)]
pub(crate) struct CommitProbe {
    shm: std::path::PathBuf,
}

/// The wal-index header's two copies.
pub(crate) type CommitMark = [u8; 96];

/// Every `-shm` file this process has opened, by path, never closed (see [`CommitProbe`]).
static SHM_FILES: std::sync::Mutex<Vec<(std::path::PathBuf, std::sync::Arc<std::fs::File>)>> = std::sync::Mutex::new(Vec::new());

impl CommitProbe {
    /// For a `sqlite:` URL of a file; `None` for an in-memory database (no `-shm` file).
    pub(crate) fn for_url(url: &str) -> Option<CommitProbe> {
        use std::str::FromStr;
        if url.contains(":memory:") || url.contains("mode=memory") {
            return None;
        }
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
        let file = options.get_filename();
        if file.as_os_str().is_empty() {
            return None;
        }
        let mut shm = file.as_os_str().to_owned();
        shm.push("-shm");
        Some(CommitProbe { shm: shm.into() })
    }

    /// The header as it is now, or `None` when it cannot be read (no WAL yet).
    pub(crate) fn mark(&self) -> Option<CommitMark> {
        use std::os::unix::fs::{FileExt, MetadataExt};
        let on_disk = std::fs::metadata(&self.shm).ok()?;
        let file = {
            let mut files = SHM_FILES.lock().unwrap_or_else(|e| e.into_inner());
            let held = files.iter().rev().find(|(path, _)| *path == self.shm).map(|(_, file)| file.clone());
            match held.filter(|file| file.metadata().is_ok_and(|m| m.ino() == on_disk.ino() && m.dev() == on_disk.dev())) {
                Some(file) => file,
                None => {
                    let file = std::sync::Arc::new(std::fs::File::open(&self.shm).ok()?);
                    files.push((self.shm.clone(), file.clone()));
                    file
                }
            }
        };
        let mut mark = [0u8; 96];
        file.read_exact_at(&mut mark, 0).ok()?;
        Some(mark)
    }
}

/// The cache triggers on `table`: for each of INSERT, UPDATE and DELETE, whether one
/// bumps `cache_versions` (SQLite: one trigger each; PostgreSQL: one for all three).
pub async fn triggers_on(db: &super::Db, table: &str) -> Result<[bool; 3], sqlx::Error> {
    let ops = ["INSERT", "UPDATE", "DELETE"];
    let mut found = [false; 3];
    match db.engine() {
        super::Engine::Sqlite => {
            let bodies: Vec<String> =
                sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1").bind(table).fetch_all(db.pool()).await?;
            for body in bodies.iter().map(|b| b.to_uppercase()).filter(|b| b.contains("CACHE_VERSIONS")) {
                for (i, op) in ops.iter().enumerate() {
                    found[i] |= body.contains(&format!("AFTER {op} ON"));
                }
            }
        }
        super::Engine::Postgres => {
            let definitions: Vec<String> = sqlx::query_scalar(
                "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relname = $1 AND NOT t.tgisinternal",
            )
            .bind(table)
            .fetch_all(db.pool())
            .await?;
            for definition in definitions.iter().map(|d| d.to_uppercase()).filter(|d| d.contains("ATTEST_CACHE_BUMP")) {
                for (i, op) in ops.iter().enumerate() {
                    found[i] |= definition.contains(op);
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new cached kind reading a table that no trigger watches would serve stale data
    /// for ever: it fails here (and on PostgreSQL in the API suite).
    #[tokio::test]
    async fn every_cached_table_has_its_triggers() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::Db::connect(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display())).await.unwrap();
        db.migrate().await.unwrap();
        for kind in Cached::ALL {
            for table in kind.tables() {
                assert_eq!(triggers_on(&db, table).await.unwrap(), [true; 3], "{kind:?} reads {table}: it needs an insert, update and delete trigger");
            }
        }
        assert_eq!(triggers_on(&db, "verifications").await.unwrap(), [false; 3], "the check can tell a table without them");
    }

    /// A write to a cached table, by any statement, moves the version its readers compare.
    #[tokio::test]
    async fn any_write_moves_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::Db::connect(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display())).await.unwrap();
        db.migrate().await.unwrap();
        let version = || async { Versions::read(db.pool()).await.unwrap().of(Cached::ApiToken) };
        let before = version().await;
        sqlx::query("INSERT INTO workspaces (id, slug, name, created_at) VALUES ('ws_1', 'acme', 'Acme', 0)").execute(db.pool()).await.unwrap();
        let inserted = version().await;
        sqlx::query("UPDATE workspaces SET rate_limit_per_minute = 5").execute(db.pool()).await.unwrap();
        let updated = version().await;
        assert!(before < inserted && inserted < updated, "{before} {inserted} {updated}");
        assert_eq!(Versions::read(db.pool()).await.unwrap().of(Cached::FlowConfig), 0, "other kinds keep theirs");
    }

    /// The probe that spares the versions query: a commit by another pool (as another
    /// process would) moves the mark, and a cached value read before it is read again.
    #[tokio::test]
    async fn a_commit_elsewhere_moves_the_mark_and_reloads_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let db = crate::store::Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let other = crate::store::Db::connect(&url).await.unwrap();
        let probe = CommitProbe::for_url(&url).expect("a file database has a probe");
        let load = |db: crate::store::Db| async move {
            db.cached(Cached::ApiToken, "k", || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM workspaces").fetch_one(db.pool()).await })
                .await
                .unwrap()
        };
        assert_eq!(load(db.clone()).await, 0);
        let quiet = probe.mark().expect("WAL mode has a wal-index");
        assert_eq!(load(db.clone()).await, 0);
        assert_eq!(probe.mark(), Some(quiet), "reads commit nothing");
        sqlx::query("INSERT INTO workspaces (id, slug, name, created_at) VALUES ('ws_1', 'acme', 'Acme', 0)").execute(other.pool()).await.unwrap();
        assert_ne!(probe.mark(), Some(quiet), "another connection's commit moves the mark");
        assert_eq!(load(db.clone()).await, 1, "the cached count is read again");
        assert!(CommitProbe::for_url("sqlite::memory:").is_none(), "no file, no mark: always the query");
    }

    /// Inside a request, cached reads may share a versions read made since the request
    /// began, but never one from before it, and a request reads its own writes.
    #[tokio::test]
    async fn a_request_sees_changes_made_before_it_and_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let db = crate::store::Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let other = crate::store::Db::connect(&url).await.unwrap();
        let load = |db: crate::store::Db| async move {
            db.cached(Cached::ApiToken, "k", || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM workspaces").fetch_one(db.pool()).await })
                .await
                .unwrap()
        };
        assert_eq!(in_request(load(db.clone())).await, 0);
        sqlx::query("INSERT INTO workspaces (id, slug, name, created_at) VALUES ('ws_1', 'acme', 'Acme', 0)").execute(other.pool()).await.unwrap();
        assert_eq!(in_request(load(db.clone())).await, 1, "a change committed before the request began is seen");
        let own_write = in_request(async {
            assert_eq!(load(db.clone()).await, 1);
            let mut tx = db.begin_write().await.unwrap();
            sqlx::query("INSERT INTO workspaces (id, slug, name, created_at) VALUES ('ws_2', 'beta', 'Beta', 0)").execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            load(db.clone()).await
        })
        .await;
        assert_eq!(own_write, 2, "the request reads its own write");
    }
}
