//! Personal data at rest (issue #17): the database columns that hold what the applicant
//! declared and what the pipeline read (dates of birth, document numbers, addresses) are
//! sealed with the same envelope as document files ([`super::crypto`]: a fresh key per
//! value, wrapped by the instance's master key). What search needs stays as keys of
//! its own (`search_name`, `search_email`, `reference`), so nothing is decrypted to find
//! a verification.
//!
//! Sealed columns: `verifications.applicant`, `verifications.photo_id`,
//! `verifications.rules` (their expected/actual values quote the applicant) and
//! `documents.extracted`. A stored value reads `pii1.<key id>.<base64 envelope>`; the key
//! id (an HMAC of the master key, not the key) names the master key that sealed it.
//!
//! Why a key ring: rows are decoded in many places that hold a connection or a
//! transaction but not the application state (`verifications::service::find` takes any
//! executor). Rather than threading the key through every decoder, each master key this
//! process loads is remembered here by its id, and a value names the key that opens it.
//! Several instances in one process (the tests run many, each with its own key) each
//! seal with their own key ([`crate::store::Db::seal_pii`]) and open with the right one.
//! Values written before sealing existed are plain JSON and read as such until
//! `attest admin rotate-master-key` (or [`seal_plaintext_rows`]) seals them.

use super::crypto::{self, MasterKey};
use crate::error::AppError;
use base64::Engine as _;
use sqlx::Row;
use std::{
    borrow::Cow,
    collections::HashMap,
    sync::{LazyLock, RwLock},
};

const PREFIX: &str = "pii1.";

/// The master keys this process has loaded, by key id.
static KEYRING: LazyLock<RwLock<HashMap<String, MasterKey>>> = LazyLock::new(Default::default);

/// A master key's public name: 8 bytes of an HMAC under it, in hex.
pub fn key_id(master: &MasterKey) -> String {
    hex::encode(&master.derive("pii-key-id")[..8])
}

/// Makes values sealed by `master` readable in this process.
pub fn remember(master: &MasterKey) {
    let mut ring = KEYRING.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    ring.entry(key_id(master)).or_insert_with(|| master.clone());
}

/// Seals `plaintext` (JSON text) under `master`.
pub fn seal(master: &MasterKey, plaintext: &str) -> String {
    remember(master);
    let envelope = crypto::seal(master, plaintext.as_bytes());
    format!("{PREFIX}{}.{}", key_id(master), base64::engine::general_purpose::STANDARD_NO_PAD.encode(envelope))
}

/// Whether a stored value is sealed (rather than plain JSON from before sealing).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// Splits a sealed value into its key id and envelope.
fn parts(stored: &str) -> Option<(&str, Vec<u8>)> {
    let (id, body) = stored.strip_prefix(PREFIX)?.split_once('.')?;
    Some((id, base64::engine::general_purpose::STANDARD_NO_PAD.decode(body).ok()?))
}

/// The plaintext of a stored value: opened when sealed, as stored otherwise.
pub fn open(stored: &str) -> Result<Cow<'_, str>, AppError> {
    if !is_sealed(stored) {
        return Ok(Cow::Borrowed(stored));
    }
    let unreadable = |why: &str| AppError::internal("sealed personal data", why);
    let (id, envelope) = parts(stored).ok_or_else(|| unreadable("malformed"))?;
    let master = KEYRING.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(id).cloned();
    let master = master.ok_or_else(|| unreadable("sealed by a master key this process has not loaded"))?;
    let bytes = crypto::open(&master, &envelope).map_err(|e| unreadable(&e.to_string()))?;
    String::from_utf8(bytes).map(Cow::Owned).map_err(|_| unreadable("not UTF-8"))
}

/// Master-key rotation of one stored value: opened with `old`, sealed by `new`.
/// `Ok(None)`: already sealed by `new`. A plain value is sealed by `new`.
pub fn reseal(old: &MasterKey, new: &MasterKey, stored: &str) -> Result<Option<String>, crypto::CryptoError> {
    if !is_sealed(stored) {
        return Ok(Some(seal(new, stored)));
    }
    let (id, envelope) = parts(stored).ok_or(crypto::CryptoError::Malformed)?;
    if id == key_id(new) {
        return Ok(None);
    }
    let plaintext = crypto::open(old, &envelope)?;
    Ok(Some(seal(new, std::str::from_utf8(&plaintext).map_err(|_| crypto::CryptoError::Malformed)?)))
}

/// A table's sealed columns and its primary key.
pub struct SealedTable {
    pub table: &'static str,
    pub key: &'static str,
    pub columns: &'static [&'static str],
    /// A plain column derived from a sealed one, for what must stay searchable.
    pub derived: Option<Derived>,
}

/// `column` holds `derive(plain value of from)`: written by whoever writes `from`, and
/// by [`seal_plaintext_rows`] for rows stored before sealing.
pub struct Derived {
    pub from: &'static str,
    pub column: &'static str,
    pub derive: fn(&str) -> Result<Option<String>, serde_json::Error>,
}

pub const SEALED: &[SealedTable] = &[
    SealedTable {
        table: "verifications",
        key: "id",
        columns: &["applicant", "photo_id", "rules"],
        // The review queue's failed-rule filter (`failed_rules`, migration 0022).
        derived: Some(Derived { from: "rules", column: "failed_rules", derive: crate::pipeline::rules::failed_key_of_json }),
    },
    SealedTable { table: "documents", key: "id", columns: &["extracted"], derived: None },
];

/// Seals the values still stored as plain JSON (rows written before sealing existed),
/// in batches; safe to run while serving and again. Answers how many were sealed.
pub async fn seal_plaintext_rows(db: &crate::store::Db, master: &MasterKey) -> Result<u64, AppError> {
    let mut sealed = 0;
    for t in SEALED {
        for column in t.columns {
            loop {
                let select = format!(
                    "SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE 'pii1.%' LIMIT 200",
                    key = t.key,
                    table = t.table
                );
                let rows = sqlx::query(&select).fetch_all(db.pool()).await?;
                if rows.is_empty() {
                    break;
                }
                let mut tx = db.begin_write().await?;
                for row in &rows {
                    let (id, value): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                    // Only if unchanged since read: a concurrent writer seals its own value.
                    let update = format!("UPDATE {table} SET {column} = $1 WHERE {key} = $2 AND {column} = $3", table = t.table, key = t.key);
                    let moved = sqlx::query(&update).bind(seal(master, &value)).bind(&id).bind(&value).execute(&mut *tx).await?.rows_affected();
                    if moved == 0 {
                        continue;
                    }
                    if let Some(derived) = t.derived.as_ref().filter(|d| d.from == *column) {
                        match (derived.derive)(&value) {
                            Ok(key) => {
                                let update =
                                    format!("UPDATE {table} SET {derived} = $1 WHERE {key} = $2", table = t.table, derived = derived.column, key = t.key);
                                sqlx::query(&update).bind(key).bind(&id).execute(&mut *tx).await?;
                            }
                            Err(e) => {
                                tracing::warn!(table = t.table, id = %id, column = derived.column, error = %e, "stored value is not valid JSON: sealed as it is, derived column left empty")
                            }
                        }
                    }
                    sealed += 1;
                }
                tx.commit().await?;
            }
        }
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_key_that_sealed_them_and_show_nothing() {
        let (a, b) = (MasterKey::generate(), MasterKey::generate());
        let from_a = seal(&a, r#"{"date_of_birth":"1990-12-10"}"#);
        let from_b = seal(&b, r#"{"document_number":"D1234567"}"#);
        assert!(!from_a.contains("1990") && !from_b.contains("D1234567"), "{from_a} {from_b}");
        assert_eq!(open(&from_a).unwrap(), r#"{"date_of_birth":"1990-12-10"}"#);
        assert_eq!(open(&from_b).unwrap(), r#"{"document_number":"D1234567"}"#);
        assert_eq!(open("{\"plain\":1}").unwrap(), "{\"plain\":1}", "rows from before sealing still read");

        let stranger = MasterKey::generate();
        let mut forged = from_a.clone();
        forged.replace_range(PREFIX.len()..PREFIX.len() + 16, &key_id(&stranger));
        assert!(open(&forged).is_err(), "a key this process never loaded opens nothing");
        let mut tampered = from_a.clone();
        let at = tampered.len() - 10;
        let swap = if &tampered[at..=at] == "A" { "B" } else { "A" };
        tampered.replace_range(at..=at, swap);
        assert!(open(&tampered).is_err(), "a changed byte fails the tag");
        assert!(open("pii1.nonsense").is_err());
    }

    #[test]
    fn a_rotation_reseals_under_the_new_key_once() {
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let stored = seal(&old, "[1,2]");
        let rotated = reseal(&old, &new, &stored).unwrap().expect("resealed");
        assert!(rotated.contains(&key_id(&new)));
        assert_eq!(open(&rotated).unwrap(), "[1,2]");
        assert!(reseal(&old, &new, &rotated).unwrap().is_none(), "a second run recognizes it");
        assert!(reseal(&MasterKey::generate(), &new, &stored).is_err(), "a wrong old key is refused");
        assert_eq!(open(&reseal(&old, &new, "[3]").unwrap().unwrap()).unwrap(), "[3]", "plain values are sealed");
    }
}
