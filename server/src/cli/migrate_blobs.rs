//! `attest admin migrate-blobs --to s3://bucket[/prefix]`: copies the document files of
//! the data directory into an S3-compatible bucket, so a single-box install can move to
//! the scaled-out layout (then set `ATTEST_BLOB_STORE` to the same URL).
//!
//! Files are copied as they are stored, sealed: nothing is decrypted, and the master key
//! stays the same. Each copy is read back and compared by SHA-256 before it counts; an
//! object already in the bucket with the same hash is left alone, so an interrupted run
//! simply runs again (resumable), and a damaged object is copied anew. The running
//! server may keep writing: run it again after switching over to catch the newest files.

use crate::config::{BlobStoreSetting, Config};
use app::documents::{blobs::BlobStore, s3::S3BlobStore};
use clap::Subcommand;
use sha2::{Digest, Sha256};

#[derive(Debug, Subcommand)]
pub enum BlobsCommand {
    /// Copy the data directory's document files into an S3 bucket (resumable; every copy
    /// verified by its SHA-256), with the standard AWS_* variables for the bucket.
    MigrateBlobs {
        /// `s3://bucket[/prefix]`, the value ATTEST_BLOB_STORE will have afterwards.
        #[arg(long, value_name = "S3_URL")]
        to: String,
    },
}

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub copied: usize,
    pub already_there: usize,
}

pub async fn run(command: BlobsCommand, config: &Config) -> anyhow::Result<()> {
    let BlobsCommand::MigrateBlobs { to } = command;
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let BlobStoreSetting::S3(settings) = BlobStoreSetting::parse(&to, &env)? else {
        anyhow::bail!("--to must be an s3://bucket[/prefix] URL");
    };
    let source = app::documents::blobs::LocalBlobStore::new(config.data_dir.join("documents"));
    let target = S3BlobStore::new(&settings).map_err(|e| anyhow::anyhow!("{to}: {e}"))?;
    target.check().await.map_err(|e| anyhow::anyhow!("{to} cannot be reached: {e}"))?;
    let done = copy_all(&source, &target).await?;
    println!("migrate-blobs: {} copied, {} already there, to {to}", done.copied, done.already_there);
    println!("Set ATTEST_BLOB_STORE={to} (with the same AWS_* variables) on every process to use it.");
    Ok(())
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Copies every key of `source` missing from `target` or different there, verifying
/// each copy by reading it back.
pub async fn copy_all(source: &dyn BlobStore, target: &dyn BlobStore) -> anyhow::Result<Copied> {
    let keys = source.list().await.map_err(|e| anyhow::anyhow!("listing {}: {e}", source.describe()))?;
    let mut done = Copied::default();
    for key in keys {
        let Some(bytes) = source.get(&key).await.map_err(|e| anyhow::anyhow!("reading {key}: {e}"))? else {
            continue; // deleted meanwhile
        };
        let hash = sha256(&bytes);
        let existing = target.get(&key).await.map_err(|e| anyhow::anyhow!("reading {key} from the bucket: {e}"))?;
        if existing.as_deref().map(sha256) == Some(hash) {
            done.already_there += 1;
            continue;
        }
        target.put(&key, bytes).await.map_err(|e| anyhow::anyhow!("writing {key} to the bucket: {e}"))?;
        let written = target.get(&key).await.map_err(|e| anyhow::anyhow!("reading {key} back: {e}"))?;
        if written.as_deref().map(sha256) != Some(hash) {
            anyhow::bail!("{key}: the copy in the bucket does not match the original (SHA-256); run the command again");
        }
        done.copied += 1;
    }
    Ok(done)
}
