//! Authenticator apps (TOTP, RFC 6238, via totp-rs) and single-use recovery codes.
//! Secrets are sealed with the master key; a code's 30 s step is remembered so the same
//! code cannot be used twice.

use crate::{
    documents::crypto::{self, MasterKey},
    error::AppError,
    store::{now_ms, Db},
};
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use totp_rs::{Algorithm, Secret, TOTP};

pub const RECOVERY_CODES: usize = 10;
const STEP_SECS: u64 = 30;

/// What the enrollment page shows: the secret for manual entry and its QR code.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

fn totp(secret: Vec<u8>, email: &str) -> Result<TOTP, AppError> {
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECS, secret, Some("Attest".into()), email.to_string()).map_err(|e| AppError::internal("TOTP parameters", e))
}

fn seal(master: &MasterKey, secret: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(crypto::seal(master, secret))
}

fn unseal(master: &MasterKey, sealed: &str) -> Result<Vec<u8>, AppError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|e| AppError::internal("stored TOTP secret", e))?;
    crypto::open(master, &bytes).map_err(|e| AppError::internal("stored TOTP secret", e))
}

/// The 30 s step `code` belongs to (now, or one step either side), if any.
fn matching_step(totp: &TOTP, code: &str, now_secs: u64) -> Option<i64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now_secs / STEP_SECS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| subtle::ConstantTimeEq::ct_eq(totp.generate(step * STEP_SECS).as_bytes(), code.as_bytes()).into())
        .map(|step| step as i64)
}

fn now_secs() -> u64 {
    (now_ms() / 1000) as u64
}

/// Starts enrollment: a new secret, kept pending until a code from the app confirms it.
pub async fn begin(db: &Db, master: &MasterKey, user_id: &str, email: &str) -> Result<Enrollment, AppError> {
    let mut secret = vec![0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    let totp = totp(secret.clone(), email)?;
    sqlx::query("UPDATE users SET totp_pending_enc = $1 WHERE id = $2").bind(seal(master, &secret)).bind(user_id).execute(db.pool()).await?;
    let otpauth_url = totp.get_url();
    let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
        .map_err(|e| AppError::internal("QR code", e))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(180, 180)
        .build();
    let secret_base32 = match Secret::Raw(secret).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    };
    Ok(Enrollment { secret_base32, otpauth_url, qr_svg })
}

/// Confirms enrollment with a code from the app; returns fresh recovery codes (shown once).
pub async fn confirm(db: &Db, master: &MasterKey, user_id: &str, email: &str, code: &str) -> Result<Vec<String>, AppError> {
    let pending: Option<String> = sqlx::query_scalar("SELECT totp_pending_enc FROM users WHERE id = $1").bind(user_id).fetch_one(db.pool()).await?;
    let Some(pending) = pending else {
        return Err(AppError::BadRequest("Start the authenticator setup again.".into()));
    };
    let secret = unseal(master, &pending)?;
    let step = matching_step(&totp(secret, email)?, code.trim(), now_secs()).ok_or(AppError::WrongCode)?;
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE users SET totp_secret_enc = totp_pending_enc, totp_pending_enc = NULL, totp_last_step = $1, totp_enabled_at = $2 WHERE id = $3")
        .bind(step)
        .bind(now_ms())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let codes = replace_recovery_codes(&mut tx, master, user_id).await?;
    tx.commit().await?;
    Ok(codes)
}

fn normalize_recovery(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase()
}

/// Recovery codes are stored as an HMAC (`h1:` + hex) under [`recovery_key`], so a copy
/// of the database alone cannot be searched for them.
fn hash_recovery(key: &[u8; 32], code: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(normalize_recovery(code).as_bytes());
    format!("h1:{}", hex::encode(mac.finalize().into_bytes()))
}

/// `instance_keys.purpose` of the recovery-code HMAC key, and the label it is first
/// derived from the master key with.
const RECOVERY_KEY: &str = "recovery-code";

/// The key recovery codes are hashed with. Until the first master-key rotation it is
/// derived from the master key. A rotation cannot re-hash the stored codes (only their
/// HMACs are kept, never the codes), so it keeps them valid instead by sealing the key
/// they were hashed with under the new master key in `instance_keys`
/// ([`carry_recovery_key`]); from then on that sealed key is the one in use. The
/// stored hashes stay exactly as they were, and a copy of the database alone still
/// cannot be searched for codes: the key is in it only sealed by the master key.
/// Voiding the codes instead would lock out exactly the users who need one (a lost
/// phone), unannounced. Keeping a key first derived from the old master key costs
/// nothing even when that key leaked: the keyed hash only stops a database copy from
/// being searched, and a code's 80 random bits cannot be searched anyway.
async fn recovery_key<'e>(executor: impl sqlx::Executor<'e, Database = sqlx::Any>, master: &MasterKey) -> Result<[u8; 32], AppError> {
    let sealed: Option<String> =
        sqlx::query_scalar("SELECT key_sealed FROM instance_keys WHERE purpose = $1").bind(RECOVERY_KEY).fetch_optional(executor).await?;
    let Some(sealed) = sealed else { return Ok(master.derive(RECOVERY_KEY)) };
    let key = unseal(master, &sealed)?;
    key.try_into().map_err(|_| AppError::internal("stored recovery-code key", "not 32 bytes"))
}

/// What [`carry_recovery_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarriedKey {
    /// No key was stored yet: the one the codes were hashed under is now sealed by the new master key.
    Sealed,
    /// The sealed key was opened with the old master key and sealed by the new one.
    Resealed,
    /// Already sealed by the new master key (a rotation run again).
    Already,
}

/// Master-key rotation, inside its transaction: makes the recovery-code key readable with
/// `new` only, so every stored recovery code keeps working (see [`recovery_key`]).
/// `hashed_under` is the master key the database's secrets were sealed with when this
/// transaction began (the old key, or the new one when a run is repeated or reversed):
/// with no key stored yet, codes were hashed under the key derived from it. Refused when
/// `old` cannot open the sealed key.
pub async fn carry_recovery_key(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    old: &MasterKey,
    new: &MasterKey,
    hashed_under: &MasterKey,
) -> Result<CarriedKey, crate::documents::rotation::RotationError> {
    use crate::documents::rotation::RotationError;
    let sealed: Option<String> =
        sqlx::query_scalar("SELECT key_sealed FROM instance_keys WHERE purpose = $1").bind(RECOVERY_KEY).fetch_optional(&mut **tx).await?;
    let Some(sealed) = sealed else {
        sqlx::query("INSERT INTO instance_keys (purpose, key_sealed, created_at) VALUES ($1, $2, $3)")
            .bind(RECOVERY_KEY)
            .bind(seal(new, &hashed_under.derive(RECOVERY_KEY)))
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
        return Ok(CarriedKey::Sealed);
    };
    let undecryptable = || RotationError::Undecryptable { what: "instance_keys.key_sealed (the recovery-code key)".into() };
    let bytes = base64::engine::general_purpose::STANDARD.decode(&sealed).map_err(|_| undecryptable())?;
    match crypto::reseal(old, new, &bytes).map_err(|_| undecryptable())? {
        None => Ok(CarriedKey::Already),
        Some(resealed) => {
            sqlx::query("UPDATE instance_keys SET key_sealed = $1 WHERE purpose = $2")
                .bind(base64::engine::general_purpose::STANDARD.encode(resealed))
                .bind(RECOVERY_KEY)
                .execute(&mut **tx)
                .await?;
            Ok(CarriedKey::Resealed)
        }
    }
}

/// The bare SHA-256 that codes issued before the keyed hash were stored as; they keep
/// working until used or replaced.
fn legacy_hash_recovery(code: &str) -> String {
    hex::encode(Sha256::digest(normalize_recovery(code).as_bytes()))
}

/// 16 characters of a 32-letter alphabet: 80 random bits, read as `xxxx-xxxx-xxxx-xxxx`.
fn new_recovery_code() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    // 256 is a multiple of 32: every letter is equally likely.
    let raw: Vec<char> = bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    raw.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

async fn replace_recovery_codes(tx: &mut sqlx::Transaction<'static, sqlx::Any>, master: &MasterKey, user_id: &str) -> Result<Vec<String>, AppError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    let key = recovery_key(&mut **tx, master).await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = new_recovery_code();
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(hash_recovery(&key, &code))
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
        codes.push(code);
    }
    Ok(codes)
}

/// New recovery codes, the old ones void.
pub async fn regenerate_recovery_codes(db: &Db, master: &MasterKey, user_id: &str) -> Result<Vec<String>, AppError> {
    let mut tx = db.begin_write().await?;
    let codes = replace_recovery_codes(&mut tx, master, user_id).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Whether the user has an authenticator app enrolled.
pub async fn is_enrolled(db: &Db, user_id: &str) -> Result<bool, AppError> {
    let secret: Option<String> = sqlx::query_scalar("SELECT totp_secret_enc FROM users WHERE id = $1").bind(user_id).fetch_optional(db.pool()).await?.flatten();
    Ok(secret.is_some())
}

/// Unused recovery codes left.
pub async fn recovery_codes_left(db: &Db, user_id: &str) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL").bind(user_id).fetch_one(db.pool()).await?)
}

/// A sign-in code: a TOTP code not used before, or an unused recovery code.
pub async fn verify_login_code(db: &Db, master: &MasterKey, user_id: &str, code: &str) -> Result<bool, AppError> {
    let row = sqlx::query("SELECT email, totp_secret_enc, totp_last_step FROM users WHERE id = $1").bind(user_id).fetch_one(db.pool()).await?;
    let sealed: Option<String> = row.try_get("totp_secret_enc")?;
    let Some(sealed) = sealed else { return Ok(false) };
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let email: String = row.try_get("email")?;
        let Some(step) = matching_step(&totp(unseal(master, &sealed)?, &email)?, code, now_secs()) else { return Ok(false) };
        // Only a step later than the last one used: a replayed code is refused.
        let accepted = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)")
            .bind(step)
            .bind(user_id)
            .execute(db.pool())
            .await?;
        return Ok(accepted.rows_affected() == 1);
    }
    let used = sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash IN ($3, $4) AND used_at IS NULL")
        .bind(now_ms())
        .bind(user_id)
        .bind(hash_recovery(&recovery_key(db.pool(), master).await?, code))
        .bind(legacy_hash_recovery(code))
        .execute(db.pool())
        .await?;
    Ok(used.rows_affected() == 1)
}

/// Removes the authenticator and the recovery codes (the user's own choice, or an admin's
/// MFA reset): the next sign-in falls back to email codes.
pub async fn clear(tx: &mut sqlx::Transaction<'static, sqlx::Any>, user_id: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET totp_secret_enc = NULL, totp_pending_enc = NULL, totp_last_step = NULL, totp_enabled_at = NULL WHERE id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok(())
}

/// The current code for a sealed secret (tests and tools that act as the app).
pub fn current_code_for(secret_base32: &str, email: &str) -> Result<String, AppError> {
    let secret = Secret::Encoded(secret_base32.to_string()).to_bytes().map_err(|e| AppError::internal("TOTP secret", format!("{e:?}")))?;
    Ok(totp(secret, email)?.generate(now_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_neighbours_only() {
        let t = totp(b"12345678901234567890".to_vec(), "ada@example.com").unwrap();
        let now = 1_700_000_000;
        let code = t.generate(now);
        assert_eq!(matching_step(&t, &code, now), Some((now / 30) as i64));
        assert_eq!(matching_step(&t, &code, now + 30), Some((now / 30) as i64), "one step of clock skew");
        assert_eq!(matching_step(&t, &code, now + 90), None);
        assert_eq!(matching_step(&t, "12345", now), None);
        assert_eq!(matching_step(&t, "abcdef", now), None);
    }

    #[test]
    fn recovery_codes_hash_the_same_however_typed() {
        let key = MasterKey::generate().derive(RECOVERY_KEY);
        assert_eq!(hash_recovery(&key, "abcd-efgh-jkmn-pqrs"), hash_recovery(&key, " ABCD EFGH JKMN PQRS "));
        assert_ne!(hash_recovery(&key, "abcd-efgh-jkmn-pqrs"), hash_recovery(&key, "abcd-efgh-jkmn-pqrt"));
    }

    #[test]
    fn recovery_codes_carry_80_bits_under_a_keyed_hash() {
        let code = new_recovery_code();
        let letters: String = code.chars().filter(|c| *c != '-').collect();
        assert_eq!(letters.len(), 16, "{code}");
        // 16 letters of 32: 16 × 5 = 80 bits.
        assert!(letters.bytes().all(|b| b"0123456789abcdefghjkmnpqrstvwxyz".contains(&b)));
        let stored = hash_recovery(&MasterKey::generate().derive(RECOVERY_KEY), &code);
        assert!(stored.starts_with("h1:"));
        assert_ne!(stored, hash_recovery(&MasterKey::generate().derive(RECOVERY_KEY), &code), "the hash is keyed");
        assert_ne!(stored.trim_start_matches("h1:"), legacy_hash_recovery(&code));
    }
}
