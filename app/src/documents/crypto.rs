//! Envelope encryption of document files (SPEC §9): each file gets its own random
//! AES-256-GCM key; that key is wrapped (AES-256-GCM) by the instance's master key.
//! Layout: `ATD1` | wrap nonce (12) | wrapped key (32 + 16 tag) | nonce (12) | ciphertext.

use aes_gcm::{
    aead::{Aead, KeyInit, OsRng},
    AeadCore, Aes256Gcm, Key, Nonce,
};
use std::fmt;

const MAGIC: &[u8; 4] = b"ATD1";
const HEADER: usize = 4 + 12 + 48 + 12;

/// The master key; never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    pub fn generate() -> Self {
        MasterKey(Aes256Gcm::generate_key(OsRng).into())
    }

    /// From base64 (standard or URL-safe) of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        use base64::Engine;
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| "is not base64".to_string())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| "must be 32 bytes (base64 of 32 random bytes)".to_string())?;
        Ok(MasterKey(bytes))
    }

    pub fn to_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// A purpose-bound key derived from the master key (HMAC-SHA256 of `label`), so
    /// one secret in configuration serves several uses without reusing a key.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `other` is this same key (compared in constant time).
    pub fn same_key(&self, other: &MasterKey) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the sealed file is malformed")]
    Malformed,
    #[error("the file could not be decrypted (wrong master key or tampered data)")]
    Decrypt,
}

/// Encrypts `plaintext` under a fresh file key wrapped by `master`.
pub fn seal(master: &MasterKey, plaintext: &[u8]) -> Vec<u8> {
    let file_key = Aes256Gcm::generate_key(OsRng);
    let wrap_nonce = Aes256Gcm::generate_nonce(OsRng);
    let wrapped = master.cipher().encrypt(&wrap_nonce, file_key.as_slice()).expect("AES-GCM encryption of 32 bytes");
    let nonce = Aes256Gcm::generate_nonce(OsRng);
    let ciphertext = Aes256Gcm::new(&file_key).encrypt(&nonce, plaintext).expect("AES-GCM encryption");
    let mut out = Vec::with_capacity(HEADER + ciphertext.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&wrap_nonce);
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Decrypts what [`seal`] produced.
pub fn open(master: &MasterKey, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < HEADER + 16 || &sealed[..4] != MAGIC {
        return Err(CryptoError::Malformed);
    }
    let wrap_nonce = Nonce::from_slice(&sealed[4..16]);
    let file_key = master.cipher().decrypt(wrap_nonce, &sealed[16..64]).map_err(|_| CryptoError::Decrypt)?;
    let nonce = Nonce::from_slice(&sealed[64..76]);
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&file_key)).decrypt(nonce, &sealed[76..]).map_err(|_| CryptoError::Decrypt)
}

/// The file key of a sealed file, unwrapped with `master`.
fn unwrap_file_key(master: &MasterKey, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < HEADER + 16 || &sealed[..4] != MAGIC {
        return Err(CryptoError::Malformed);
    }
    master.cipher().decrypt(Nonce::from_slice(&sealed[4..16]), &sealed[16..64]).map_err(|_| CryptoError::Decrypt)
}

/// Whether `sealed`'s file key is wrapped by `master` (the AES-GCM tag of the wrapped
/// key proves it; the document itself is not decrypted).
pub fn is_wrapped_by(master: &MasterKey, sealed: &[u8]) -> bool {
    unwrap_file_key(master, sealed).is_ok()
}

/// Master-key rotation of one sealed file: its file key, unwrapped with `old`, wrapped
/// again by `new` under a fresh wrap nonce. Only the header changes; the document's
/// nonce and ciphertext are kept byte for byte (the document is not re-encrypted).
/// `Ok(None)`: already wrapped by `new` (an interrupted rotation being run again).
pub fn rewrap(old: &MasterKey, new: &MasterKey, sealed: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
    if is_wrapped_by(new, sealed) {
        return Ok(None);
    }
    let file_key = unwrap_file_key(old, sealed)?;
    let wrap_nonce = Aes256Gcm::generate_nonce(OsRng);
    let wrapped = new.cipher().encrypt(&wrap_nonce, file_key.as_slice()).expect("AES-GCM encryption of 32 bytes");
    let mut out = Vec::with_capacity(sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&wrap_nonce);
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(&sealed[64..]);
    Ok(Some(out))
}

/// Master-key rotation of a small sealed secret: opened with `old`, sealed again by
/// `new` under a fresh file key. `Ok(None)`: already sealed by `new`.
pub fn reseal(old: &MasterKey, new: &MasterKey, sealed: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
    if open(new, sealed).is_ok() {
        return Ok(None);
    }
    Ok(Some(seal(new, &open(old, sealed)?)))
}

/// The key that seals stored idempotent API responses (derived from the master key):
/// the API stores them with it, redaction opens them to find a verification's.
pub fn idempotency_key(master: &MasterKey) -> MasterKey {
    MasterKey::from_bytes(master.derive("idempotency-responses"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_files_open_only_with_their_master_key() {
        let master = MasterKey::generate();
        let sealed = seal(&master, b"%PDF-1.7 lease for 12 Main St");
        assert!(!sealed.windows(4).any(|w| w == b"Main"), "no plaintext at rest");
        assert_eq!(open(&master, &sealed).unwrap(), b"%PDF-1.7 lease for 12 Main St");
        assert!(matches!(open(&MasterKey::generate(), &sealed), Err(CryptoError::Decrypt)));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open(&master, &tampered).is_err());
        assert!(matches!(open(&master, b"short"), Err(CryptoError::Malformed)));
    }

    #[test]
    fn a_rewrapped_file_opens_only_with_the_new_key_and_keeps_its_ciphertext() {
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let sealed = seal(&old, b"%PDF-1.7 lease");
        let rewrapped = rewrap(&old, &new, &sealed).unwrap().expect("rewrapped");
        assert_eq!(rewrapped[64..], sealed[64..], "the document's nonce and ciphertext are untouched");
        assert_eq!(open(&new, &rewrapped).unwrap(), b"%PDF-1.7 lease");
        assert!(matches!(open(&old, &rewrapped), Err(CryptoError::Decrypt)), "the old key no longer opens it");
        assert!(rewrap(&old, &new, &rewrapped).unwrap().is_none(), "a second run recognizes it");
        let stranger = MasterKey::generate();
        assert!(matches!(rewrap(&stranger, &new, &sealed), Err(CryptoError::Decrypt)), "a wrong old key is refused");
        assert!(matches!(rewrap(&old, &new, b"short"), Err(CryptoError::Malformed)));

        let resealed = reseal(&old, &new, &sealed).unwrap().expect("resealed");
        assert_eq!(open(&new, &resealed).unwrap(), b"%PDF-1.7 lease");
        assert!(reseal(&old, &new, &resealed).unwrap().is_none());
        assert!(reseal(&stranger, &new, &sealed).is_err());
    }

    #[test]
    fn master_keys_parse_from_base64_of_32_bytes() {
        let key = MasterKey::generate();
        assert!(MasterKey::from_base64(&key.to_base64()).is_ok());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(!format!("{key:?}").contains(&key.to_base64()));
    }
}
