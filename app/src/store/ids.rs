//! Opaque, prefixed, roughly time-ordered ids (`ws_…`, `usr_…`, `ver_…`).
//!
//! 48 bits of milliseconds followed by 80 random bits, in Crockford base32, so ids sort
//! by creation time (keyset pagination) and do not reveal counts.

use rand::RngCore;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new id with the given prefix, e.g. `new_id("ws")` → `ws_01jd…`.
pub fn new_id(prefix: &str) -> String {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u128;
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    let mut value: u128 = millis << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= (*byte as u128) << (8 * (9 - i));
    }
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    for i in (0..26).rev() {
        let index = ((value >> (i * 5)) & 0x1f) as usize;
        out.push(ALPHABET[index] as char);
    }
    out
}

/// A random secret of `bytes` bytes, in URL-safe base64 without padding.
pub fn random_secret(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_unique_and_time_ordered() {
        let a = new_id("ver");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("ver");
        assert!(a.starts_with("ver_") && a.len() == 30, "{a}");
        assert_ne!(a, b);
        assert!(a < b, "{a} should sort before {b}");
    }
}
