//! Where document files live. The store only ever sees sealed (encrypted) bytes; the
//! local filesystem store is the embedded default, and an S3-compatible store can
//! implement the same trait for scale-out.

use super::crypto::{self, MasterKey};
use crate::error::AppError;
use async_trait::async_trait;
use std::{path::PathBuf, sync::Arc};

#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()>;
    async fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>>;
    async fn delete(&self, key: &str) -> std::io::Result<()>;
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
        let safe = !key.is_empty()
            && key
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != ".." && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        if !safe {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("unsafe blob key {key:?}")));
        }
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
        let sealed = self.store.get(key).await.map_err(|e| AppError::internal("reading a document", e))?.ok_or(AppError::NotFound)?;
        let master = self.master.clone();
        tokio::task::spawn_blocking(move || crypto::open(&master, &sealed))
            .await
            .map_err(|e| AppError::internal("decrypting a document", e))?
            .map_err(|e| AppError::internal("decrypting a document", e))
    }

    pub async fn delete(&self, key: &str) {
        if let Err(e) = self.store.delete(key).await {
            tracing::warn!(error = %e, key, "could not delete a document file");
        }
    }
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
        std::fs::remove_dir_all(dir).ok();
    }
}
