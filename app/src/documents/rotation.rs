//! Master-key rotation (`attest admin rotate-master-key`, issue #20): every secret sealed
//! or keyed with the master key is carried over to a new key, without re-encrypting a
//! single document.
//!
//! What the master key protects, and what a rotation does with each:
//! - document files in the blob store (`ATD1` envelopes, [`super::crypto`]): the file key
//!   in the header is unwrapped with the old key and wrapped by the new one
//!   ([`crypto::rewrap`]); the document's nonce and ciphertext are written back as they
//!   were. Only the [`BlobStore`] trait's `get`/`put` are used, so any store works.
//! - `users.totp_secret_enc`, `users.totp_pending_enc`, `webhook_endpoints.secret_enc`,
//!   `webhook_endpoints.previous_secret_enc` (base64 envelopes): re-sealed.
//! - `idempotency_keys.response_sealed` (hex envelopes under the key the API derives from
//!   the master key with the label [`IDEMPOTENCY_LABEL`]): re-sealed under the new
//!   derived key.
//! - personal data in `verifications` and `documents` (`pii1.` values, [`super::pii`]):
//!   re-sealed; values still in plain text from before sealing are sealed.
//! - recovery codes (HMACs whose codes are not kept): the HMAC key is carried, sealed by
//!   the new key, so every code keeps working ([`crate::auth::totp::carry_recovery_key`]).
//! - emailed sign-in codes (`mfa_challenges.code_hash`, an HMAC under a derived key): they
//!   live ten minutes and cannot be re-hashed, so pending ones are voided; that user is
//!   sent back to sign in again (no failure is counted).
//! - form outcomes (`crate::forms`, an HMAC under a derived key): signed redirect
//!   parameters that live minutes and are stored nowhere; one in flight across the
//!   rotation shows no confirmation. Nothing to carry.
//!
//! Safe to interrupt and run again: a blob or value already under the new key is
//! recognized (its AES-GCM tag opens with the new key) and skipped, and the database part
//! is one transaction. Refused, before anything is written, when the old key opens
//! neither a stored secret nor the first document file that needs it.

use super::{
    blobs::BlobStore,
    crypto::{self, MasterKey},
    pii,
};
use crate::store::{now_ms, Db};
use base64::Engine as _;
use sqlx::Row;
use std::sync::Arc;

/// The label the API derives its idempotency-response sealing key with
/// (`server/src/api/idempotency.rs`, `sealing_key`); the two must stay equal (the
/// rotation test replays a stored response after a rotation).
pub const IDEMPOTENCY_LABEL: &str = "idempotency-responses";

/// Document files rotated at once (an S3 store answers in tens of milliseconds).
const PARALLEL_BLOBS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("{what} does not open with the current master key: ATTEST_MASTER_KEY (or <data-dir>/master.key) is not the key it was sealed with, or it is damaged; nothing more was changed")]
    Undecryptable { what: String },
    #[error("document file {key}: {source}")]
    Store { key: String, source: std::io::Error },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// What [`rotate_blobs`] did.
#[derive(Debug, Default, Clone)]
pub struct BlobReport {
    pub rewrapped: usize,
    /// Already wrapped by the new key (an earlier, interrupted run).
    pub already: usize,
    /// Named by a document row but absent from the store.
    pub missing: Vec<String>,
}

/// What [`rotate_database`] did.
#[derive(Debug, Clone)]
pub struct DatabaseReport {
    pub resealed: usize,
    /// Already sealed by the new key.
    pub already: usize,
    pub recovery_key: crate::auth::totp::CarriedKey,
    pub challenges_voided: u64,
    /// Personal-data values ([`pii`]) re-sealed (plain ones from before sealing included).
    pub personal_data_resealed: usize,
    /// Personal-data values already sealed by the new key.
    pub personal_data_already: usize,
}

/// Every document file the database names (front and back sides), in a stable order.
pub async fn document_blob_keys(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT front_blob, back_blob FROM documents ORDER BY id").fetch_all(db.pool()).await?;
    let mut keys = Vec::with_capacity(rows.len() * 2);
    for row in rows {
        keys.push(row.try_get::<String, _>("front_blob")?);
        if let Some(back) = row.try_get::<Option<String>, _>("back_blob")? {
            keys.push(back);
        }
    }
    Ok(keys)
}

/// What [`rewrap_blob`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    Rewrapped,
    Already,
    Missing,
}

/// Rewraps one stored file's key from `old` to `new` (read, new header, written back whole).
pub async fn rewrap_blob(store: &dyn BlobStore, key: &str, old: &MasterKey, new: &MasterKey) -> Result<BlobOutcome, RotationError> {
    let Some(sealed) = store.get(key).await.map_err(|source| RotationError::Store { key: key.to_string(), source })? else {
        return Ok(BlobOutcome::Missing);
    };
    match crypto::rewrap(old, new, &sealed) {
        Ok(None) => Ok(BlobOutcome::Already),
        Ok(Some(rewrapped)) => {
            store.put(key, rewrapped).await.map_err(|source| RotationError::Store { key: key.to_string(), source })?;
            Ok(BlobOutcome::Rewrapped)
        }
        Err(_) => Err(RotationError::Undecryptable { what: format!("document file {key}") }),
    }
}

/// Rewraps every document file's key; `progress(done, total)` is called as files complete.
/// Stops at the first file the old key cannot open (files before it are already under
/// the new key, which a later run recognizes).
pub async fn rotate_blobs(
    store: Arc<dyn BlobStore>,
    keys: Vec<String>,
    old: &MasterKey,
    new: &MasterKey,
    mut progress: impl FnMut(usize, usize),
) -> Result<BlobReport, RotationError> {
    let total = keys.len();
    let mut report = BlobReport::default();
    let mut pending = keys.into_iter();
    let mut running = tokio::task::JoinSet::new();
    let mut done = 0;
    loop {
        while running.len() < PARALLEL_BLOBS {
            let Some(key) = pending.next() else { break };
            let (store, old, new) = (store.clone(), old.clone(), new.clone());
            running.spawn(async move {
                let outcome = rewrap_blob(store.as_ref(), &key, &old, &new).await;
                (key, outcome)
            });
        }
        let Some(finished) = running.join_next().await else { break };
        let (key, outcome) = finished.map_err(|e| RotationError::Store { key: "(a rotation task)".into(), source: std::io::Error::other(e.to_string()) })?;
        match outcome? {
            BlobOutcome::Rewrapped => report.rewrapped += 1,
            BlobOutcome::Already => report.already += 1,
            BlobOutcome::Missing => report.missing.push(key),
        }
        done += 1;
        progress(done, total);
    }
    Ok(report)
}

/// How a sealed column is stored.
#[derive(Clone, Copy)]
enum Text {
    Base64,
    Hex,
}

/// A column holding envelopes sealed with the master key (or a key derived from it).
struct SealedColumn {
    table: &'static str,
    /// The primary key's columns (all TEXT).
    keys: &'static [&'static str],
    column: &'static str,
    text: Text,
    /// Sealed under `MasterKey::from_bytes(master.derive(label))` instead of the master key.
    derived: Option<&'static str>,
}

const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn { table: "users", keys: &["id"], column: "totp_secret_enc", text: Text::Base64, derived: None },
    SealedColumn { table: "users", keys: &["id"], column: "totp_pending_enc", text: Text::Base64, derived: None },
    SealedColumn { table: "webhook_endpoints", keys: &["id"], column: "secret_enc", text: Text::Base64, derived: None },
    SealedColumn { table: "webhook_endpoints", keys: &["id"], column: "previous_secret_enc", text: Text::Base64, derived: None },
    SealedColumn { table: "idempotency_keys", keys: &["workspace_id", "key"], column: "response_sealed", text: Text::Hex, derived: Some(IDEMPOTENCY_LABEL) },
];

/// Re-seals every secret in the database under `new`, carries the recovery-code key and
/// voids pending emailed codes, in one transaction; with `commit` false the transaction
/// is rolled back (a check that the old key opens everything, before any file is touched).
pub async fn rotate_database(db: &Db, old: &MasterKey, new: &MasterKey, commit: bool) -> Result<DatabaseReport, RotationError> {
    let mut tx = db.begin_write().await?;
    let (mut resealed, mut already) = (0, 0);
    for sealed in SEALED_COLUMNS {
        let (old_key, new_key) = match sealed.derived {
            Some(label) => (MasterKey::from_bytes(old.derive(label)), MasterKey::from_bytes(new.derive(label))),
            None => (old.clone(), new.clone()),
        };
        let keys = sealed.keys.join(", ");
        let rows = sqlx::query(&format!("SELECT {keys}, {column} FROM {table} WHERE {column} IS NOT NULL", column = sealed.column, table = sealed.table))
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            let ids: Vec<String> = sealed.keys.iter().map(|k| row.try_get::<String, _>(*k)).collect::<Result<_, _>>()?;
            let text: String = row.try_get(sealed.column)?;
            let undecryptable = || RotationError::Undecryptable { what: format!("{}.{} of {}", sealed.table, sealed.column, ids.join("/")) };
            let bytes = match sealed.text {
                Text::Base64 => base64::engine::general_purpose::STANDARD.decode(&text).map_err(|_| undecryptable())?,
                Text::Hex => hex::decode(&text).map_err(|_| undecryptable())?,
            };
            let Some(fresh) = crypto::reseal(&old_key, &new_key, &bytes).map_err(|_| undecryptable())? else {
                already += 1;
                continue;
            };
            let fresh = match sealed.text {
                Text::Base64 => base64::engine::general_purpose::STANDARD.encode(fresh),
                Text::Hex => hex::encode(fresh),
            };
            let filter: Vec<String> = sealed.keys.iter().enumerate().map(|(i, k)| format!("{k} = ${}", i + 2)).collect();
            let sql = format!("UPDATE {} SET {} = $1 WHERE {}", sealed.table, sealed.column, filter.join(" AND "));
            let mut query = sqlx::query(&sql).bind(fresh);
            for id in &ids {
                query = query.bind(id.clone());
            }
            query.execute(&mut *tx).await?;
            resealed += 1;
        }
    }
    // Every secret already under the new key: the transaction of an earlier run (or of a
    // rotation now being reversed) committed, so the codes' key derives from `new`. The
    // database changes in one transaction, so it is never half under each key.
    let hashed_under = if resealed == 0 && already > 0 { new } else { old };
    let recovery_key = crate::auth::totp::carry_recovery_key(&mut tx, old, new, hashed_under).await?;
    // Personal data (`pii1.` values; plain values from before sealing get sealed too),
    // counted apart from the secrets, whose count tells under which key the codes were hashed.
    let (mut personal_data_resealed, mut personal_data_already) = (0, 0);
    for t in pii::SEALED {
        for column in t.columns {
            let select = format!("SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL", key = t.key, table = t.table);
            for row in sqlx::query(&select).fetch_all(&mut *tx).await? {
                let (id, text): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                let undecryptable = || RotationError::Undecryptable { what: format!("{}.{column} of {id}", t.table) };
                let Some(fresh) = pii::reseal(old, new, &text).map_err(|_| undecryptable())? else {
                    personal_data_already += 1;
                    continue;
                };
                let update = format!("UPDATE {table} SET {column} = $1 WHERE {key} = $2", table = t.table, key = t.key);
                sqlx::query(&update).bind(fresh).bind(&id).execute(&mut *tx).await?;
                personal_data_resealed += 1;
            }
        }
    }
    // Emailed codes were hashed under the old key; a check with the key in use keeps them.
    let challenges_voided = if old.same_key(new) {
        0
    } else {
        sqlx::query("UPDATE mfa_challenges SET voided_at = $1 WHERE method = 'email' AND consumed_at IS NULL AND voided_at IS NULL AND expires_at > $1")
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected()
    };
    let report = DatabaseReport { resealed, already, recovery_key, challenges_voided, personal_data_resealed, personal_data_already };
    if commit {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(report)
}
