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

    /// The current version of this kind's tables: their sum, as each only grows.
    pub(crate) fn version_sql(self) -> &'static str {
        match self {
            Cached::ApiToken => "SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM cache_versions WHERE name IN ('api_tokens', 'workspaces')",
            Cached::FlowConfig => "SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM cache_versions WHERE name = 'flow_configs'",
            Cached::WebhookSubscribers => "SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM cache_versions WHERE name = 'webhook_endpoints'",
        }
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
        for kind in Cached::ALL {
            for table in kind.tables() {
                assert!(kind.version_sql().contains(&format!("'{table}'")), "{kind:?}'s version covers {table}");
            }
        }
    }

    /// A write to a cached table, by any statement, moves the version its readers compare.
    #[tokio::test]
    async fn any_write_moves_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::Db::connect(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display())).await.unwrap();
        db.migrate().await.unwrap();
        let version = || async { sqlx::query_scalar::<_, i64>(Cached::ApiToken.version_sql()).fetch_one(db.pool()).await.unwrap() };
        let before = version().await;
        sqlx::query("INSERT INTO workspaces (id, slug, name, created_at) VALUES ('ws_1', 'acme', 'Acme', 0)").execute(db.pool()).await.unwrap();
        let inserted = version().await;
        sqlx::query("UPDATE workspaces SET rate_limit_per_minute = 5").execute(db.pool()).await.unwrap();
        let updated = version().await;
        assert!(before < inserted && inserted < updated, "{before} {inserted} {updated}");
        assert_eq!(sqlx::query_scalar::<_, i64>(Cached::FlowConfig.version_sql()).fetch_one(db.pool()).await.unwrap(), 0, "other kinds keep theirs");
    }
}
