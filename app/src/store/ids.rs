//! Opaque, prefixed, roughly time-ordered ids (`ws_…`, `usr_…`, `ver_…`).
//!
//! 48 bits of milliseconds followed by 80 random bits, in Crockford base32, so ids sort
//! by creation time (keyset pagination) and do not reveal counts.

use rand::RngCore;
use std::sync::Mutex;

/// The last id's (milliseconds, random part): ids made in the same millisecond by this
/// process increment the random part, so they still sort in creation order.
static LAST: Mutex<(u128, u128)> = Mutex::new((0, 0));

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new id with the given prefix, e.g. `new_id("ws")` → `ws_01jd…`.
pub fn new_id(prefix: &str) -> String {
    let mut millis = chrono::Utc::now().timestamp_millis().max(0) as u128;
    let mut bytes = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut random: u128 = bytes.iter().fold(0, |acc, b| (acc << 8) | *b as u128);
    {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if millis <= last.0 {
            millis = last.0;
            random = (last.1 + 1) & ((1u128 << 80) - 1);
        }
        *last = (millis, random);
    }
    let value: u128 = (millis << 80) | random;
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
        let burst: Vec<String> = (0..1000).map(|_| new_id("hst")).collect();
        assert!(burst.windows(2).all(|w| w[0] < w[1]), "ids made in one millisecond keep their order");
    }
}
