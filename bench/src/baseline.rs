#![forbid(unsafe_code)]
//! `baseline <addr> <sqlite-file>`: serves `GET /items/{id}` from a seeded SQLite table,
//! the floor every Attest API figure is compared with.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::get,
    Json, Router,
};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
    Row, SqlitePool,
};
use std::str::FromStr;

async fn item(State(pool): State<SqlitePool>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, StatusCode> {
    let row = sqlx::query("SELECT id, body FROM items WHERE id = ?1")
        .bind(id)
        .fetch_optional(&pool)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::NOT_FOUND)?;
    let body: String = row.get("body");
    Ok(Json(serde_json::json!({ "id": row.get::<String, _>("id"), "body": body })))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9001".into());
    let file = args.next().unwrap_or_else(|| "baseline.db".into());
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{file}")).unwrap().create_if_missing(true).journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, body TEXT NOT NULL)").execute(&pool).await.unwrap();
    for i in 0..10_000 {
        sqlx::query("INSERT OR IGNORE INTO items (id, body) VALUES (?1, ?2)").bind(format!("item{i}")).bind("x".repeat(400)).execute(&pool).await.unwrap();
    }
    let app = Router::new().route("/items/{id}", get(item)).with_state(pool);
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
