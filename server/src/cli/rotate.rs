//! `attest admin rotate-master-key`: moves every document file and stored secret from the
//! master key in use (`ATTEST_MASTER_KEY` or `<data-dir>/master.key`) to a new one,
//! without re-encrypting documents (see `app::documents::rotation` for what is carried and
//! how). Run it with every `attest serve` / `attest worker` stopped; it is safe to
//! interrupt and run again. Keys are never printed, only their fingerprints.

use crate::{config::Config, startup};
use app::documents::{
    crypto::MasterKey,
    rotation::{self, RotationError},
};
use clap::Subcommand;
use std::path::{Path, PathBuf};

/// Where the new key may be given instead of a file (never on the command line, where
/// other users of the machine could read it).
const NEW_KEY_ENV: &str = "ATTEST_NEW_MASTER_KEY";

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Re-wrap every document file's key and re-seal every stored secret under a new
    /// master key (stop attest first; safe to interrupt and run again). The new key is
    /// read from --new-key-file or ATTEST_NEW_MASTER_KEY (base64 of 32 random bytes).
    RotateMasterKey {
        /// A file holding the new key, like master.key (e.g. `head -c 32 /dev/urandom | base64 > new.key`).
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
}

pub async fn run(command: KeyCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        KeyCommand::RotateMasterKey { new_key_file } => rotate(config, new_key_file.as_deref()).await,
    }
}

fn new_key(file: Option<&Path>) -> anyhow::Result<MasterKey> {
    let from_env = std::env::var(NEW_KEY_ENV).ok().filter(|v| !v.trim().is_empty());
    match (file, from_env) {
        (Some(_), Some(_)) => anyhow::bail!("give the new key once: --new-key-file or {NEW_KEY_ENV}, not both"),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--new-key-file {}: {e}", path.display()))?;
            MasterKey::from_base64(&text).map_err(|e| anyhow::anyhow!("--new-key-file {}: {e}", path.display()))
        }
        (None, Some(text)) => MasterKey::from_base64(&text).map_err(|e| anyhow::anyhow!("{NEW_KEY_ENV}: {e}")),
        (None, None) => anyhow::bail!("the new master key is missing: --new-key-file FILE or {NEW_KEY_ENV} (base64 of 32 random bytes)"),
    }
}

async fn rotate(config: &Config, new_key_file: Option<&Path>) -> anyhow::Result<()> {
    let new = new_key(new_key_file)?;
    // The key in use, resolved as `attest serve` does, but never generated here.
    let key_file = config.data_dir.join("master.key");
    let from_file = config.master_key.is_none();
    if from_file && !key_file.exists() {
        anyhow::bail!("there is no master key yet (ATTEST_MASTER_KEY or {}): nothing is sealed, nothing to rotate", key_file.display());
    }
    let db = startup::open_database(config).await?;
    // The store `attest serve` would use (whichever BlobStore is configured).
    let state = startup::app_state(config, db.clone())?;
    let old = state.files.master.clone();
    let (old_print, new_print) = (super::backup::fingerprint(&old), super::backup::fingerprint(&new));
    let same = old.same_key(&new);
    if same {
        println!("the new key ({new_print}) is already the key in use: checking that every document file and secret opens with it");
    } else {
        println!("rotating the master key {old_print} → {new_print}");
    }

    // 1. Everything in the database must open with the old key (or already with the new
    //    one) before any document file is touched: a dry run, rolled back.
    rotation::rotate_database(&db, &old, &new, false).await.map_err(explain)?;

    // 2. Document files: one header rewritten each, the first unreadable one stops the run.
    let keys = rotation::document_blob_keys(&db).await?;
    let total = keys.len();
    let step = (total / 10).max(100);
    let blobs = rotation::rotate_blobs(state.files.store.clone(), keys, &old, &new, |done, total| {
        if done % step == 0 && done < total {
            println!("  {done}/{total} document files");
        }
    })
    .await
    .map_err(explain)?;

    // 3. The database's secrets, in one transaction.
    let database = rotation::rotate_database(&db, &old, &new, true).await.map_err(explain)?;
    // Any process still holding cached rows (it should have been stopped) reads them again.
    db.close().await;

    println!(
        "document files: {} rewrapped, {} already under the new key{} (of {total}; documents were not re-encrypted)",
        blobs.rewrapped,
        blobs.already,
        if blobs.missing.is_empty() { String::new() } else { format!(", {} missing from the store", blobs.missing.len()) }
    );
    for key in blobs.missing.iter().take(20) {
        println!("  missing: {key}");
    }
    println!(
        "database: {} secrets re-sealed (authenticator secrets, webhook signing secrets, stored idempotent responses), {} already under the new key; recovery codes kept valid ({}); {} pending emailed sign-in codes voided",
        database.resealed,
        database.already,
        match database.recovery_key {
            app::auth::totp::CarriedKey::Sealed => "their key is now sealed by the new master key",
            app::auth::totp::CarriedKey::Resealed => "their key re-sealed",
            app::auth::totp::CarriedKey::Already => "their key was already sealed by the new master key",
        },
        database.challenges_voided
    );
    println!(
        "personal data (applicants, photo-ID numbers, rule findings, extracted fields): {} values re-sealed, {} already under the new key",
        database.personal_data_resealed, database.personal_data_already
    );
    if same {
        return Ok(());
    }
    if from_file {
        write_key_file(&key_file, &new)?;
        println!("{} now holds the new key ({new_print}); start attest as before", key_file.display());
    } else {
        println!("done: set ATTEST_MASTER_KEY to the new key ({new_print}) for every attest process before starting them; the old key ({old_print}) opens nothing any more");
    }
    println!("backups taken before now need the old key: keep it with them, or take a new backup and destroy the old key");
    Ok(())
}

fn explain(e: RotationError) -> anyhow::Error {
    anyhow::anyhow!("rotation refused: {e}")
}

/// Replaces `<data-dir>/master.key` whole (temp file + rename), owner-only.
fn write_key_file(path: &Path, key: &MasterKey) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("key.new");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    file.write_all(key.to_base64().as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| anyhow::anyhow!("cannot replace {}: {e}", path.display()))
}
