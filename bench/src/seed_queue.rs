//! Fills an Attest SQLite database with `count` verifications for the review-queue
//! benchmark: a realistic mix of statuses (5 % waiting for review, most decided), a
//! failed rule on the ones under review, spread over the last year.
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
    let mut tx = conn.begin().await.unwrap();
    let names = ["Ada Lovelace", "Grace Hopper", "Katherine Johnson", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth", "Frances Allen"];
    for start in (0..count).step_by(BATCH) {
        let end = (start + BATCH).min(count);
        let mut sql = String::from(
            "INSERT INTO verifications (id, workspace_id, flow, status, reference, applicant, rules, decision_outcome, version, created_at, updated_at, search_name, search_name_rev, search_email) VALUES ",
        );
        for i in start..end {
            if i > start {
                sql.push(',');
            }
            let (status, rules, decision) = match i % 20 {
                0 => ("needs_review", r#"[{"name":"name_mismatch","result":"fail","expected":"x","found":"y"}]"#, "NULL"),
                1..=3 => ("started", "[]", "NULL"),
                4 => ("submitted", "[]", "NULL"),
                5 => ("canceled", "[]", "NULL"),
                6 | 7 => ("rejected", r#"[{"name":"document_expired","result":"fail","expected":"x","found":"y"}]"#, "'rejected'"),
                _ => ("approved", "[]", "'approved'"),
            };
            let (first, last) = names[i % names.len()].split_once(' ').unwrap();
            let created = now - year_ms + (i as i64) * year_ms / count as i64;
            let applicant = format!(
                r#"{{"first_name":"{first}","last_name":"{last}{i}","date_of_birth":"1990-01-01","email":"{}{i}@example.com","address":{{"line1":"{i} Main St","city":"Springfield","state":"IL","postal_code":"62701","country":"US"}}}}"#,
                first.to_lowercase()
            );
            let flow = if i % 3 == 0 { "identity" } else { "usps1583" };
            sql.push_str(&format!(
                "('ver_seed{i:012}', '{workspace}', '{flow}', '{status}', 'ref-{i}', '{applicant}', '{rules}', {decision}, 1, {created}, {created}, '{first_l} {last_l}{i}', '{last_l}{i} {first_l}', '{first_l}{i}@example.com')",
                first_l = first.to_lowercase(),
                last_l = last.to_lowercase(),
            ));
        }
        sqlx::query(&sql).execute(&mut *tx).await.expect("insert a batch");
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
    println!("seeded {count} verifications");
}
