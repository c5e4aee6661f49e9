//! tower-sessions records in our own `sessions` table, through the shared pool.
//!
//! Written here rather than taken from tower-sessions-sqlx-store because that store
//! needs a pool per engine and keeps no `user_id` column; ours serves SQLite and
//! PostgreSQL through one code path and lets a user's sessions be found and ended
//! (logout everywhere, MFA reset) when several server processes share the database.

use crate::store::Db;
use async_trait::async_trait;
use sqlx::Row;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
    SessionStore,
};

/// The session key holding the signed-in [`super::SessionUser`].
pub const USER_KEY: &str = "user";

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        DbSessionStore { db }
    }
}

fn backend(err: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

fn user_id_of(record: &Record) -> Option<String> {
    record.data.get(USER_KEY).and_then(|u| u.get("id")).and_then(|id| id.as_str()).map(str::to_string)
}

fn expiry_ms(record: &Record) -> i64 {
    (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(backend)?;
        // A fresh random id collides with negligible probability; on collision draw again.
        loop {
            let inserted = sqlx::query("INSERT INTO sessions (id, user_id, data, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(record.id.to_string())
                .bind(user_id_of(record))
                .bind(&data)
                .bind(expiry_ms(record))
                .execute(self.db.pool())
                .await;
            match inserted {
                Ok(_) => return Ok(()),
                Err(e) if crate::store::is_unique_violation(&e) => record.id = Id::default(),
                Err(e) => return Err(backend(e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(backend)?;
        let updated = sqlx::query("UPDATE sessions SET user_id = $1, data = $2, expires_at = $3 WHERE id = $4")
            .bind(user_id_of(record))
            .bind(&data)
            .bind(expiry_ms(record))
            .bind(record.id.to_string())
            .execute(self.db.pool())
            .await
            .map_err(backend)?;
        if updated.rows_affected() == 0 {
            sqlx::query("INSERT INTO sessions (id, user_id, data, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(record.id.to_string())
                .bind(user_id_of(record))
                .bind(&data)
                .bind(expiry_ms(record))
                .execute(self.db.pool())
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id.to_string())
            .bind(crate::store::now_ms())
            .fetch_optional(self.db.pool())
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = row.try_get("data").map_err(backend)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(backend)?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(expires_at as i128 * 1_000_000).map_err(backend)?;
        Ok(Some(Record { id: *id, data: serde_json::from_str(&data).map_err(backend)?, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id.to_string()).execute(self.db.pool()).await.map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(crate::store::now_ms()).execute(self.db.pool()).await.map_err(backend)?;
        Ok(())
    }
}
