//! Statements built once and run either one by one or together.
//!
//! A change writes several rows beside itself (history, activity, event, deliveries,
//! jobs: ARCHITECTURE's "one transaction per change"). On SQLite every statement is a
//! round trip to the connection's thread, and a writer holds the database's one write
//! lock for all of them, so a change of seven statements serialises every writer behind
//! seven thread hand-offs. A [`Batch`] sends them as one multi-statement query instead
//! (sqlx binds `$n` across the statements of one query), inside `BEGIN IMMEDIATE …
//! COMMIT`: the lock is held only while SQLite itself runs them. PostgreSQL has no
//! multi-statement prepared queries, so there the same statements run one by one in a
//! transaction (its row locks do not serialise writers the same way).

use super::{Db, Engine};
use sqlx::{any::AnyArguments, query::Query, Any, AnyConnection, Executor};

/// A bind value. SQL here is portable: text, integers (timestamps, flags), NULLs.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<String> for Param {
    fn from(v: String) -> Param {
        Param::Text(Some(v))
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Param {
        Param::Text(Some(v.to_string()))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Param {
        Param::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Param {
        Param::Text(v)
    }
}
impl From<Option<&str>> for Param {
    fn from(v: Option<&str>) -> Param {
        Param::Text(v.map(str::to_string))
    }
}
impl From<i64> for Param {
    fn from(v: i64) -> Param {
        Param::Int(Some(v))
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Param {
        Param::Int(v)
    }
}

/// One statement and its values (`$1…` in order).
#[derive(Debug, Clone)]
pub struct Statement {
    sql: &'static str,
    params: Vec<Param>,
}

impl Statement {
    pub fn new(sql: &'static str) -> Statement {
        Statement { sql, params: Vec::new() }
    }

    pub fn bind(mut self, value: impl Into<Param>) -> Statement {
        self.params.push(value.into());
        self
    }

    /// Runs it alone (on a pool, a connection or inside a transaction).
    pub async fn execute<'e, E: Executor<'e, Database = Any>>(self, executor: E) -> Result<(), sqlx::Error> {
        bind_all(sqlx::query(self.sql), &self.params).execute(executor).await.map(|_| ())
    }
}

fn bind_all<'q>(mut query: Query<'q, Any, AnyArguments<'q>>, params: &[Param]) -> Query<'q, Any, AnyArguments<'q>> {
    for param in params {
        query = match param {
            Param::Text(v) => query.bind(v.clone()),
            Param::Int(v) => query.bind(*v),
        };
    }
    query
}

/// Statements that commit together.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    statements: Vec<Statement>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn push(&mut self, statement: Statement) {
        self.statements.push(statement);
    }

    /// Runs every statement inside an open transaction (one round trip on SQLite).
    pub async fn run(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self.statements.is_empty() {
            return Ok(());
        }
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            let (sql, params) = self.joined("", "");
            return bind_all(sqlx::query(&sql), &params).execute(&mut *conn).await.map(|_| ());
        }
        for statement in self.statements {
            statement.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Runs every statement in a transaction of its own: on SQLite one round trip, the
    /// write lock taken by `BEGIN IMMEDIATE` and released by `COMMIT` inside it.
    pub async fn commit(self, db: &Db) -> Result<(), sqlx::Error> {
        if db.engine() == Engine::Postgres {
            let mut tx = db.pool().begin().await?;
            self.run(&mut tx).await?;
            return tx.commit().await;
        }
        let (sql, params) = self.joined("BEGIN IMMEDIATE; ", " COMMIT;");
        let pool = db.pool().clone();
        // A task of its own: a request that is dropped half-way (client gone) must not
        // hand back a connection with the transaction still open.
        tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            let result = bind_all(sqlx::query(&sql), &params).execute(&mut *conn).await.map(|_| ());
            if result.is_err() {
                // A statement failed after BEGIN: roll back. "No transaction is active"
                // (BEGIN itself failed) is fine; anything else retires the connection.
                if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                    if !e.to_string().contains("no transaction is active") {
                        conn.close_on_drop();
                    }
                }
            }
            result
        })
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("the batch's task failed: {e}")))?
    }

    /// The statements as one SQL text, `$n` renumbered to follow on, and their values.
    fn joined(self, before: &str, after: &str) -> (String, Vec<Param>) {
        let mut sql = String::from(before);
        let mut params = Vec::new();
        for statement in self.statements {
            sql.push_str(&renumber(statement.sql, params.len()));
            sql.push_str("; ");
            params.extend(statement.params);
        }
        sql.push_str(after);
        (sql, params)
    }
}

/// Shifts every `$n` placeholder by `offset` (our statements have no `$` in literals).
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_on_across_statements() {
        assert_eq!(renumber("INSERT INTO t (a, b) VALUES ($1, $2)", 3), "INSERT INTO t (a, b) VALUES ($4, $5)");
        assert_eq!(renumber("UPDATE t SET a = $10 WHERE id = $1", 0), "UPDATE t SET a = $10 WHERE id = $1");
        assert_eq!(renumber("x = $12, y = $", 100), "x = $112, y = $");
        let mut batch = Batch::new();
        batch.push(Statement::new("INSERT INTO a VALUES ($1, $2)").bind("x").bind(1));
        batch.push(Statement::new("INSERT INTO b VALUES ($1)").bind(None::<String>));
        let (sql, params) = batch.joined("BEGIN; ", "COMMIT;");
        assert_eq!(sql, "BEGIN; INSERT INTO a VALUES ($1, $2); INSERT INTO b VALUES ($3); COMMIT;");
        assert_eq!(params, vec![Param::from("x"), Param::from(1), Param::Text(None)]);
    }

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())).await.unwrap();
        Statement::new("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT)").execute(db.pool()).await.unwrap();
        (dir, db)
    }

    /// What [`Batch`] relies on: through sqlx's `Any` driver on SQLite, one query of
    /// several statements is run whole, and `$n` names the n-th value of the whole query
    /// in every statement (not the n-th of the statement's own). An sqlx upgrade that
    /// numbers per statement, stops after the first, or refuses multi-statement queries
    /// with values would make batches write NULLs (SQLite binds missing values as NULL)
    /// or the wrong values, silently: this fails instead.
    #[tokio::test]
    async fn sqlx_sqlite_binds_dollar_n_across_the_statements_of_one_query() {
        let (_dir, db) = sqlite().await;
        // Raw sqlx first: later statements name values by their place in the whole query,
        // one of them a value the first statement also used.
        sqlx::query("INSERT INTO t (id, n) VALUES ($1, $2); INSERT INTO t (id, n) VALUES ($3, $2); UPDATE t SET n = n + $4 WHERE id = $3")
            .bind("first")
            .bind(10_i64)
            .bind("second")
            .bind(5_i64)
            .execute(db.pool())
            .await
            .expect("sqlx runs one query of several statements with values on SQLite");
        let rows: Vec<(String, Option<i64>)> = sqlx::query_as("SELECT id, n FROM t ORDER BY id").fetch_all(db.pool()).await.unwrap();
        assert_eq!(rows, [("first".to_string(), Some(10)), ("second".to_string(), Some(15))], "every statement ran, each $n the query's n-th value");

        // Then through a batch: every statement's own `$1…` lands on its own values,
        // texts, integers and NULLs alike, in statements of different lengths.
        let mut batch = Batch::new();
        batch.push(Statement::new("INSERT INTO t (id, n) VALUES ($1, $2)").bind("a").bind(1));
        batch.push(Statement::new("INSERT INTO t (n, id) VALUES ($2, $1)").bind("b").bind(None::<i64>));
        batch.push(Statement::new("INSERT INTO t (id) VALUES ($1)").bind("c"));
        batch.push(Statement::new("UPDATE t SET n = $1 WHERE id = $2 OR id = $3").bind(7).bind("c").bind("nobody"));
        batch.push(Statement::new("INSERT INTO t (id, n) VALUES ($1, $2)").bind("d").bind(4));
        batch.commit(&db).await.unwrap();
        let rows: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT id, n FROM t WHERE id IN ('a', 'b', 'c', 'd') ORDER BY id").fetch_all(db.pool()).await.unwrap();
        let expected = [("a", Some(1)), ("b", None), ("c", Some(7)), ("d", Some(4))].map(|(id, n)| (id.to_string(), n));
        assert_eq!(rows, expected, "a batch's statements each bound their own values");
    }

    #[tokio::test]
    async fn a_batch_commits_all_or_nothing_on_sqlite() {
        let (_dir, db) = sqlite().await;
        let mut batch = Batch::new();
        batch.push(Statement::new("INSERT INTO t (id, n) VALUES ($1, $2)").bind("a").bind(1));
        batch.push(Statement::new("INSERT INTO t (id, n) VALUES ($1, $2)").bind("b").bind(None::<i64>));
        batch.commit(&db).await.unwrap();
        let mut failing = Batch::new();
        failing.push(Statement::new("INSERT INTO t (id, n) VALUES ($1, $2)").bind("c").bind(3));
        failing.push(Statement::new("INSERT INTO t (id, n) VALUES ($1, $2)").bind("a").bind(4));
        assert!(failing.commit(&db).await.is_err(), "the duplicate key fails the batch");
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM t ORDER BY id").fetch_all(db.pool()).await.unwrap();
        assert_eq!(ids, ["a", "b"], "the failed batch left nothing behind");
        // Every pooled connection is usable again (none left inside the failed transaction).
        for _ in 0..10 {
            let mut batch = Batch::new();
            batch.push(Statement::new("UPDATE t SET n = n + 1 WHERE id = $1").bind("a"));
            batch.commit(&db).await.unwrap();
        }
        let n: i64 = sqlx::query_scalar("SELECT n FROM t WHERE id = 'a'").fetch_one(db.pool()).await.unwrap();
        assert_eq!(n, 11);
    }
}
