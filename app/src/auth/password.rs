//! Password hashing: argon2id with the OWASP parameters (19 MiB, 2 passes, 1 lane),
//! always on the blocking pool so a login never stalls the async executor, and never
//! more hashes at once than the machine has cores: a flood of sign-ins waits briefly
//! for a slot and past a short queue is answered 429 at once ([`AppError::Busy`]),
//! instead of piling 19 MiB hashes onto the blocking pool.

use crate::error::AppError;
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, LazyLock,
    },
    time::Duration,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// How long a sign-in waits for a slot before it is told to come back.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// The hashing slots of one server (in [`crate::state::Services`]): one per core, and a
/// queue of four times that.
#[derive(Debug)]
pub struct Slots {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl Default for Slots {
    fn default() -> Self {
        Slots { permits: Arc::new(Semaphore::new(cores())), waiting: AtomicUsize::new(0) }
    }
}

/// The right to run one hash now; taken before anything else is spent on an attempt.
pub struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

impl Slots {
    /// A slot for a sign-in's check, or `Err(Busy)` when the queue is full or the wait
    /// runs out.
    pub async fn take(&self) -> Result<Slot, AppError> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(Slot(permit));
        }
        let busy = AppError::Busy { retry_after_secs: 1 };
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= 4 * cores() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy);
        }
        let permit = tokio::time::timeout(SLOT_WAIT, self.permits.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match permit {
            Ok(Ok(permit)) => Ok(Slot(permit)),
            _ => Err(busy),
        }
    }
}

/// Setting a password (invitation, reset, change, the operator's CLI) is rare and never
/// reached without a valid link or session: it waits its turn in a process-wide line of
/// one hash per core rather than being refused.
static SETTING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(cores())));

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A real hash of a random password, verified against when the email is unknown so
/// that a wrong email and a wrong password take the same time.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2().hash_password(crate::store::ids::random_secret(24).as_bytes(), &salt).expect("hashing a random password succeeds").to_string()
});

/// Minimum length per NIST 800-63B, no composition rules; strength as zxcvbn estimates
/// it (score 3 of 4 or better: "safely unguessable" against an online attack plus
/// throttling), with `context` (the user's e-mail, the workspace name…) counted as
/// guessable words.
pub fn check_strength(password: &str, context: &[&str]) -> Result<(), AppError> {
    if password.chars().count() < 12 {
        return Err(AppError::invalid("password", "The password must be at least 12 characters."));
    }
    if password.len() > 1024 {
        return Err(AppError::invalid("password", "The password may not be longer than 1024 bytes."));
    }
    // zxcvbn's cost grows with length; past 100 characters only the length matters.
    let head: String = password.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&head, context);
    if (estimate.score() as u8) < 3 {
        let hint = estimate.feedback().and_then(|f| f.warning()).map(|w| format!(" {w}.")).unwrap_or_default();
        return Err(AppError::invalid("password", format!("The password is too easy to guess.{hint} Use a longer phrase of unrelated words.")));
    }
    Ok(())
}

/// Hashes `password` into a PHC string.
pub async fn hash(password: String) -> Result<String, AppError> {
    let permit = SETTING.clone().acquire_owned().await.map_err(|e| AppError::internal("password hashing slots", e))?;
    tokio::task::spawn_blocking(move || {
        let _slot = permit;
        let salt = SaltString::generate(&mut OsRng);
        argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(|e| AppError::internal("password hashing task", e))?
    .map_err(|e| AppError::internal("password hashing", e))
}

/// Whether `password` matches `stored` (a PHC string). `None` verifies against a dummy
/// hash and returns false, taking the same time as a real check.
pub async fn verify(slot: Slot, password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let (hash, real) = match stored {
            Some(hash) => (hash, true),
            None => (DUMMY_HASH.clone(), false),
        };
        let parsed = match PasswordHash::new(&hash) {
            Ok(parsed) => parsed,
            Err(e) => {
                tracing::error!(error = %e, "stored password hash is not a PHC string");
                return false;
            }
        };
        argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real
    })
    .await
    .map_err(|e| AppError::internal("password verification task", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_by_length_and_by_estimate() {
        assert!(check_strength("short", &[]).is_err());
        for weak in ["password1234", "qwertyuiop12", "aaaaaaaaaaaaaaaa", "ada@acme.test2026"] {
            assert!(check_strength(weak, &["ada@acme.test"]).is_err(), "{weak}");
        }
        assert!(check_strength("correct horse battery staple", &[]).is_ok());
        assert!(check_strength(&"x".repeat(2000), &[]).is_err(), "too long");
    }

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        let slots = Slots::default();
        assert!(verify(slots.take().await.unwrap(), "correct horse battery".into(), Some(stored.clone())).await.unwrap());
        assert!(!verify(slots.take().await.unwrap(), "wrong horse battery".into(), Some(stored)).await.unwrap());
        assert!(!verify(slots.take().await.unwrap(), "anything".into(), None).await.unwrap());
    }
}
