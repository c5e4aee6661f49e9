//! Fills an Attest SQLite database with `count` verifications for the review-queue
//! benchmark: a realistic mix of statuses (5 % waiting for review, most decided), a
//! failed rule on the ones under review, spread over the last year.
//!
//! Personal data is written unsealed, as a database from before sealing holds it (the
//! server reads both; the benchmark runs without workers, so the start-up sealing pass
//! does not run). `failed_rules` is filled as the pipeline fills it, when the database
//! has that column (migration 0022), so one build seeds older versions' databases too.
//!
//! Usage: seed_queue <attest.db> <workspace slug> <count>

use sqlx::{sqlite::SqliteConnectOptions, Connection, SqliteConnection};
use std::str::FromStr;

const BATCH: usize = 1000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, slug, count] = args.as_slice() else {
        eprintln!("usage: seed_queue <attest.db> <workspace slug> <count>");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("count is a number");
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}")).expect("path").journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let mut conn = SqliteConnection::connect_with(&options).await.expect("open the database");
    let workspace: String = sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = ?").bind(slug).fetch_one(&mut conn).await.expect("workspace exists");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let year_ms = 365 * 24 * 3600 * 1000i64;
    let has_failed_rules: bool = sqlx::query_scalar("SELECT COUNT(*) > 0 FROM pragma_table_info('verifications') WHERE name = 'failed_rules'")
        .fetch_one(&mut conn)
        .await
        .expect("read the schema");
    let mut tx = conn.begin().await.unwrap();
    let names = ["Ada Lovelace", "Grace Hopper", "Katherine Johnson", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth", "Frances Allen"];
    for start in (0..count).step_by(BATCH) {
        let end = (start + BATCH).min(count);
        let extra_column = if has_failed_rules { ", failed_rules" } else { "" };
        let mut sql = format!(
            "INSERT INTO verifications (id, workspace_id, flow, status, reference, applicant, rules, decision_outcome, version, created_at, updated_at, search_name, search_name_rev, search_email{extra_column}) VALUES ",
        );
        for i in start..end {
            if i > start {
                sql.push(',');
            }
            let (status, rules, decision, failed) = match i % 20 {
                0 => ("needs_review", r#"[{"name":"name_mismatch","result":"fail","expected":"x","found":"y"}]"#, "NULL", "',name_mismatch,'"),
                1..=3 => ("started", "[]", "NULL", "NULL"),
                4 => ("submitted", "[]", "NULL", "NULL"),
                5 => ("canceled", "[]", "NULL", "NULL"),
                6 | 7 => ("rejected", r#"[{"name":"document_expired","result":"fail","expected":"x","found":"y"}]"#, "'rejected'", "',document_expired,'"),
                _ => ("approved", "[]", "'approved'", "NULL"),
            };
            let (first, last) = names[i % names.len()].split_once(' ').unwrap();
            let created = now - year_ms + (i as i64) * year_ms / count as i64;
            let applicant = format!(
                r#"{{"first_name":"{first}","last_name":"{last}{i}","date_of_birth":"1990-01-01","email":"{}{i}@example.com","address":{{"line1":"{i} Main St","city":"Springfield","state":"IL","postal_code":"62701","country":"US"}}}}"#,
                first.to_lowercase()
            );
            let flow = if i % 3 == 0 { "identity" } else { "usps1583" };
            sql.push_str(&format!(
                "('ver_seed{i:012}', '{workspace}', '{flow}', '{status}', 'ref-{i}', '{applicant}', '{rules}', {decision}, 1, {created}, {created}, '{first_l} {last_l}{i}', '{last_l}{i} {first_l}', '{first_l}{i}@example.com'{failed})",
                first_l = first.to_lowercase(),
                last_l = last.to_lowercase(),
                failed = if has_failed_rules { format!(", {failed}") } else { String::new() },
            ));
        }
        sqlx::query(&sql).execute(&mut *tx).await.expect("insert a batch");
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
    println!("seeded {count} verifications");
}
