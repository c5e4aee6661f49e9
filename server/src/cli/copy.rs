//! `attest admin copy-database --to postgres://…`: moves an embedded (SQLite) install to
//! PostgreSQL. Every table is copied row for row into an empty PostgreSQL database that
//! this command migrates to the same schema: ids, timestamps and sealed secrets are
//! copied as they are, so the same master key keeps opening them; document files stay in
//! the blob store, untouched.
//!
//! The source is read in one transaction (a consistent snapshot) and the target written
//! in one transaction: a failure leaves the target empty, ready for another try. A target
//! that holds any row is refused. Column values are converted by the target column's type
//! (both schemas come from the same migrations, checked by version), and any sequence or
//! identity column is moved past the copied rows so new rows insert fine.

use crate::{config::Config, startup};
use clap::Subcommand;
use sqlx::{Connection, Row};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Subcommand)]
pub enum CopyCommand {
    /// Copy every table of the embedded SQLite database (DATABASE_URL / --data-dir) into an
    /// empty PostgreSQL database (stop attest first). Documents stay where they are; keep
    /// the same data directory (or blob store) and master key.
    CopyDatabase {
        /// The PostgreSQL database to fill (created empty beforehand); also read from
        /// ATTEST_COPY_TO_DATABASE_URL, which keeps a password off the command line.
        #[arg(long, value_name = "URL", env = "ATTEST_COPY_TO_DATABASE_URL", hide_env_values = true)]
        to: String,
    },
}

pub async fn run(command: CopyCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        CopyCommand::CopyDatabase { to } => copy(config, &to).await,
    }
}

/// How a target column's values are read from SQLite and bound for PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Bool,
    Bytes,
    Text,
    /// Another type (jsonb, uuid, timestamps…): copied as text and cast by PostgreSQL.
    Cast,
}

#[derive(Debug)]
struct Column {
    name: String,
    kind: Kind,
    /// PostgreSQL's own type name (`udt_name`), for [`Kind::Cast`].
    udt: String,
}

enum Value {
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
    Text(Option<String>),
}

fn kind_of(data_type: &str) -> Kind {
    match data_type {
        "bigint" | "integer" | "smallint" => Kind::Int,
        "double precision" | "real" | "numeric" => Kind::Float,
        "boolean" => Kind::Bool,
        "bytea" => Kind::Bytes,
        "text" | "character varying" | "character" => Kind::Text,
        _ => Kind::Cast,
    }
}

/// A quoted identifier; names come from the schema, and anything odd is refused.
fn ident(name: &str) -> anyhow::Result<String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        anyhow::bail!("unexpected table or column name {name:?}");
    }
    Ok(format!("\"{name}\""))
}

fn redact(url: &str) -> String {
    // postgres://user:password@host/db → postgres://user:***@host/db
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Tables each database keeps for itself, filled by its own migrations: the applied
/// migrations and the cache's versions (bumped by triggers). Neither is copied.
const BOOKKEEPING: [&str; 2] = ["_sqlx_migrations", "cache_versions"];

/// The target's tables (bookkeeping included); refused when any other holds a row.
async fn refuse_non_empty(dst: &mut sqlx::PgConnection) -> anyhow::Result<Vec<String>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut *dst)
    .await?;
    for table in tables.iter().filter(|t| !BOOKKEEPING.contains(&t.as_str())) {
        let has_rows: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {})", ident(table)?)).fetch_one(&mut *dst).await?;
        if has_rows {
            anyhow::bail!("the target database is not empty (table {table} has rows); refusing to copy into it: give an empty database");
        }
    }
    Ok(tables)
}

async fn copy(config: &Config, to: &str) -> anyhow::Result<()> {
    if !(to.starts_with("postgres:") || to.starts_with("postgresql:")) {
        anyhow::bail!("--to must be a PostgreSQL URL (postgres://user:password@host/database)");
    }
    if !config.database_url().starts_with("sqlite:") {
        anyhow::bail!("copy-database moves the embedded SQLite database to PostgreSQL; DATABASE_URL is not a SQLite database");
    }
    let source_path = super::backup::sqlite_path(config, "attest admin copy-database")?;
    if !source_path.exists() {
        anyhow::bail!("no database at {} (DATABASE_URL / ATTEST_DATA_DIR): nothing to copy", source_path.display());
    }
    // The target is looked at before anything is written to it: any row, or tables that
    // are not Attest's, and it is left alone.
    let mut dst = sqlx::PgConnection::connect(to).await.map_err(|e| anyhow::anyhow!("cannot open the target database {}: {e}", redact(to)))?;
    let existing = refuse_non_empty(&mut dst).await?;
    if !existing.is_empty() && !existing.iter().any(|t| t == BOOKKEEPING[0]) {
        anyhow::bail!("the target database already has tables that are not Attest's ({}); give an empty database", existing.join(", "));
    }
    // Both sides on this release's schema: the source brought up to date, the target
    // migrated from nothing.
    startup::open_database(config).await?.close().await;
    let target = app::store::Db::connect(to).await.map_err(|e| anyhow::anyhow!("cannot open the target database {}: {e}", redact(to)))?;
    target.migrate().await.map_err(|e| anyhow::anyhow!("migrating the target database: {e}"))?;
    target.close().await;

    let mut src = super::backup::open_sqlite(&source_path, true).await?;

    let versions = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    let src_versions: Vec<i64> = sqlx::query_scalar(versions).fetch_all(&mut src).await?;
    let dst_versions: Vec<i64> = sqlx::query_scalar(versions).fetch_all(&mut dst).await?;
    if src_versions != dst_versions {
        anyhow::bail!("the two databases are on different migrations (SQLite {src_versions:?}, PostgreSQL {dst_versions:?}); run `attest migrate` on both with this release");
    }

    let src_tables: BTreeSet<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
        .fetch_all(&mut src)
        .await?
        .into_iter()
        .filter(|t: &String| !BOOKKEEPING.contains(&t.as_str()))
        .collect();
    let dst_tables: BTreeSet<String> =
        sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
            .fetch_all(&mut dst)
            .await?
            .into_iter()
            .filter(|t: &String| !BOOKKEEPING.contains(&t.as_str()))
            .collect();
    if src_tables != dst_tables {
        let only_src: Vec<_> = src_tables.difference(&dst_tables).collect();
        let only_dst: Vec<_> = dst_tables.difference(&src_tables).collect();
        anyhow::bail!("the schemas differ: only in SQLite {only_src:?}, only in PostgreSQL {only_dst:?}");
    }
    refuse_non_empty(&mut dst).await?;

    // Columns as the target has them, checked against the source's.
    let mut columns: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    let mut always_identity: BTreeSet<String> = BTreeSet::new();
    for table in &dst_tables {
        let rows = sqlx::query(
            "SELECT column_name::text AS name, data_type::text AS data_type, udt_name::text AS udt, is_identity::text AS is_identity, \
             COALESCE(identity_generation::text, '') AS generation \
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut dst)
        .await?;
        let mut list = Vec::new();
        for row in rows {
            let name: String = row.try_get("name")?;
            if row.try_get::<String, _>("is_identity")? == "YES" && row.try_get::<String, _>("generation")? == "ALWAYS" {
                always_identity.insert(table.clone());
            }
            list.push(Column { kind: kind_of(&row.try_get::<String, _>("data_type")?), udt: row.try_get("udt")?, name });
        }
        let src_columns: BTreeSet<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info($1)").bind(table).fetch_all(&mut src).await?.into_iter().collect();
        let dst_columns: BTreeSet<String> = list.iter().map(|c| c.name.clone()).collect();
        if src_columns != dst_columns {
            anyhow::bail!("table {table} has different columns: SQLite {src_columns:?}, PostgreSQL {dst_columns:?}");
        }
        columns.insert(table.clone(), list);
    }

    // Parents before children, so foreign keys hold row by row.
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for table in &src_tables {
        let referenced: Vec<String> = sqlx::query_scalar("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list($1)").bind(table).fetch_all(&mut src).await?;
        parents.insert(table.clone(), referenced.into_iter().filter(|p| p != table && src_tables.contains(p)).collect());
    }
    let mut order: Vec<String> = Vec::new();
    while order.len() < src_tables.len() {
        let ready: Vec<String> = src_tables.iter().filter(|t| !order.contains(t) && parents[*t].iter().all(|p| order.contains(p))).cloned().collect();
        if ready.is_empty() {
            anyhow::bail!("the foreign keys between tables form a cycle; cannot order the copy");
        }
        order.extend(ready);
    }

    let mut reading = src.begin().await?;
    let mut writing = dst.begin().await?;
    let mut copied: Vec<(String, i64)> = Vec::new();
    for table in &order {
        let list = &columns[table];
        let names: Vec<String> = list.iter().map(|c| ident(&c.name)).collect::<anyhow::Result<_>>()?;
        let select = format!("SELECT rowid AS attest_copy_rowid, {} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2", names.join(", "), ident(table)?);
        let per_batch = (20_000 / list.len()).clamp(1, 1000);
        let mut after = i64::MIN;
        let mut count = 0i64;
        loop {
            let rows = sqlx::query(&select).bind(after).bind(per_batch as i64).fetch_all(&mut *reading).await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("attest_copy_rowid")?;
            let mut values: Vec<Value> = Vec::with_capacity(rows.len() * list.len());
            for row in &rows {
                for column in list {
                    let name = column.name.as_str();
                    let value = match column.kind {
                        Kind::Int => row.try_get::<Option<i64>, _>(name).map(Value::Int),
                        Kind::Float => row.try_get::<Option<f64>, _>(name).map(Value::Float),
                        Kind::Bool => row.try_get::<Option<bool>, _>(name).map(Value::Bool),
                        Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(name).map(Value::Bytes),
                        Kind::Text | Kind::Cast => row.try_get::<Option<String>, _>(name).map(Value::Text),
                    }
                    .map_err(|e| anyhow::anyhow!("reading {table}.{name}: {e}"))?;
                    values.push(value);
                }
            }
            let mut placeholders = Vec::with_capacity(rows.len());
            let mut n = 0;
            for _ in &rows {
                let one: Vec<String> = list
                    .iter()
                    .map(|c| {
                        n += 1;
                        match c.kind {
                            Kind::Cast => format!("${n}::{}", ident(&c.udt).unwrap_or_else(|_| "text".into())),
                            _ => format!("${n}"),
                        }
                    })
                    .collect();
                placeholders.push(format!("({})", one.join(", ")));
            }
            let insert = format!(
                "INSERT INTO {} ({}){} VALUES {}",
                ident(table)?,
                names.join(", "),
                if always_identity.contains(table) { " OVERRIDING SYSTEM VALUE" } else { "" },
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&insert);
            for value in values {
                query = match value {
                    Value::Int(v) => query.bind(v),
                    Value::Float(v) => query.bind(v),
                    Value::Bool(v) => query.bind(v),
                    Value::Bytes(v) => query.bind(v),
                    Value::Text(v) => query.bind(v),
                };
            }
            query.execute(&mut *writing).await.map_err(|e| anyhow::anyhow!("writing {table}: {e}"))?;
            count += rows.len() as i64;
        }
        let source_count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", ident(table)?)).fetch_one(&mut *reading).await?;
        let target_count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", ident(table)?)).fetch_one(&mut *writing).await?;
        if source_count != count || target_count != count {
            anyhow::bail!("{table}: {source_count} rows in SQLite but {target_count} copied; nothing was committed");
        }
        copied.push((table.clone(), count));
    }

    // Sequences and identity columns continue after the copied rows.
    let sequences = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = current_schema() AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')",
    )
    .fetch_all(&mut *writing)
    .await?;
    for row in &sequences {
        let (table, column): (String, String) = (row.try_get("t")?, row.try_get("c")?);
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false)",
            c = ident(&column)?,
            t = ident(&table)?
        );
        sqlx::query(&sql)
            .bind(ident(&table)?)
            .bind(&column)
            .execute(&mut *writing)
            .await
            .map_err(|e| anyhow::anyhow!("moving the sequence of {table}.{column}: {e}"))?;
    }
    writing.commit().await.map_err(|e| anyhow::anyhow!("committing the copy: {e}"))?;
    reading.rollback().await.ok();
    sqlx::query("ANALYZE").execute(&mut dst).await.ok();
    dst.close().await.ok();
    src.close().await.ok();

    let total: i64 = copied.iter().map(|(_, n)| n).sum();
    println!("copied {total} rows of {} tables into {}:", copied.len(), redact(to));
    for (table, n) in &copied {
        println!("  {table}: {n}");
    }
    if !sequences.is_empty() {
        println!("{} sequences moved past the copied rows", sequences.len());
    }
    println!(
        "next: start attest with DATABASE_URL set to the PostgreSQL database, the same master key and the same document store ({}); keep {} until you have checked the new install",
        config.data_dir.join("documents").display(),
        source_path.display()
    );
    Ok(())
}
