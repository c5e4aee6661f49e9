//! Where document files live. The store only ever sees sealed (encrypted) bytes; the
//! local filesystem store is the embedded default, and an S3-compatible bucket
//! ([`super::s3::S3BlobStore`]) implements the same trait for scale-out.

use super::crypto::{self, MasterKey};
use crate::error::AppError;
use async_trait::async_trait;
use std::{path::PathBuf, sync::Arc};

#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()>;
    async fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>>;
    async fn delete(&self, key: &str) -> std::io::Result<()>;

    /// Every key in the store (for `attest admin migrate-blobs`).
    async fn list(&self) -> std::io::Result<Vec<String>> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "this blob store cannot list its keys"))
    }

    /// Whether the store answers, for `/readyz`.
    async fn check(&self) -> std::io::Result<()> {
        Ok(())
    }

    /// Where the files are, for logs and operator messages (never credentials).
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

/// A key is `segment/segment/…`, each of ASCII letters, digits, `_` and `-`: nothing that
/// could climb out of a directory or a bucket prefix.
pub fn check_key(key: &str) -> std::io::Result<()> {
    let safe = !key.is_empty()
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    if safe {
        Ok(())
    } else {
        Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("unsafe blob key {key:?}")))
    }
}

/// Files under `<data-dir>/documents/`, written atomically (temp file + rename).
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    pub fn new(root: PathBuf) -> Self {
        LocalBlobStore { root }
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await
    }

    async fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, key: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn list(&self) -> std::io::Result<Vec<String>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            let mut pending = vec![(root.clone(), String::new())];
            while let Some((dir, prefix)) = pending.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                for entry in entries {
                    let entry = entry?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let key = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
                    if entry.file_type()?.is_dir() {
                        pending.push((entry.path(), key));
                    } else if check_key(&key).is_ok() {
                        // Skips `*.tmp`: a write that never finished.
                        keys.push(key);
                    }
                }
            }
            keys.sort();
            Ok(keys)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    async fn check(&self) -> std::io::Result<()> {
        tokio::fs::create_dir_all(&self.root).await?;
        let meta = tokio::fs::metadata(&self.root).await?;
        if meta.permissions().readonly() {
            return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, format!("{} is read-only", self.root.display())));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

/// Encrypting access to the blob store: what services use.
#[derive(Debug, Clone)]
pub struct DocumentFiles {
    pub store: Arc<dyn BlobStore>,
    pub master: MasterKey,
}

impl DocumentFiles {
    pub async fn put(&self, key: &str, plaintext: Vec<u8>) -> Result<(), AppError> {
        let master = self.master.clone();
        let sealed =
            tokio::task::spawn_blocking(move || crypto::seal(&master, &plaintext)).await.map_err(|e| AppError::internal("encrypting a document", e))?;
        self.store.put(key, sealed).await.map_err(|e| AppError::internal("storing a document", e))
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, AppError> {
        // A redacted document's file is gone: its key is empty.
        if key.is_empty() {
            return Err(AppError::NotFound);
        }
        let sealed = self.store.get(key).await.map_err(|e| AppError::internal("reading a document", e))?.ok_or(AppError::NotFound)?;
        let master = self.master.clone();
        tokio::task::spawn_blocking(move || crypto::open(&master, &sealed))
            .await
            .map_err(|e| AppError::internal("decrypting a document", e))?
            .map_err(|e| AppError::internal("decrypting a document", e))
    }

    /// Like [`DocumentFiles::get`], telling a missing or unreadable file from one that does
    /// not decrypt (a wrong master key, tampering), for the pipeline's failure reasons.
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, FileError> {
        let sealed = self.store.get(key).await.map_err(|e| FileError::Unreachable(e.to_string()))?.ok_or(FileError::Missing)?;
        let master = self.master.clone();
        tokio::task::spawn_blocking(move || crypto::open(&master, &sealed))
            .await
            .map_err(|e| FileError::Unreachable(e.to_string()))?
            .map_err(|e| FileError::Undecryptable(e.to_string()))
    }

    pub async fn delete(&self, key: &str) {
        if let Err(e) = self.store.delete(key).await {
            tracing::warn!(error = %e, key, "could not delete a document file");
        }
    }
}

/// Why a document's file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is missing from the blob store")]
    Missing,
    #[error("the blob store could not be read: {0}")]
    Unreachable(String),
    #[error("the file does not decrypt: {0}")]
    Undecryptable(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_stored_encrypted_and_read_back() {
        let dir = std::env::temp_dir().join(crate::store::ids::new_id("blobs"));
        let files = DocumentFiles { store: Arc::new(LocalBlobStore::new(dir.clone())), master: MasterKey::generate() };
        files.put("ws_1/doc_1/front", b"\xFF\xD8\xFFsecret face".to_vec()).await.unwrap();
        let raw = std::fs::read(dir.join("ws_1/doc_1/front")).unwrap();
        assert!(!raw.windows(6).any(|w| w == b"secret"));
        assert_eq!(files.get("ws_1/doc_1/front").await.unwrap(), b"\xFF\xD8\xFFsecret face");
        assert_eq!(files.get("ws_1/doc_1/back").await.unwrap_err(), AppError::NotFound);
        assert!(files.store.put("../escape", vec![]).await.is_err());
        files.put("ws_1/doc_2/back", b"more".to_vec()).await.unwrap();
        std::fs::write(dir.join("ws_1/doc_2/front.tmp"), b"half written").unwrap();
        assert_eq!(files.store.list().await.unwrap(), ["ws_1/doc_1/front", "ws_1/doc_2/back"], "every key, never a half-written file");
        assert_eq!(files.read("ws_1/doc_9/front").await, Err(FileError::Missing));
        let wrong = DocumentFiles { store: files.store.clone(), master: MasterKey::generate() };
        assert!(matches!(wrong.read("ws_1/doc_1/front").await, Err(FileError::Undecryptable(_))));
        std::fs::remove_dir_all(dir).ok();
    }
}
