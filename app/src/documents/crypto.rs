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
    fn master_keys_parse_from_base64_of_32_bytes() {
        let key = MasterKey::generate();
        assert!(MasterKey::from_base64(&key.to_base64()).is_ok());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(!format!("{key:?}").contains(&key.to_base64()));
    }
}
