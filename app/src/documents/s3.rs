//! Document files in an S3-compatible bucket (`ATTEST_BLOB_STORE=s3://bucket[/prefix]`),
//! through the `object_store` crate. Like every [`BlobStore`], it only ever receives
//! sealed bytes: the envelope encryption of [`super::blobs::DocumentFiles`] happens in
//! this process before a byte leaves it.

use super::blobs::{check_key, BlobStore};
use async_trait::async_trait;
use object_store::{aws::AmazonS3Builder, path::Path, ObjectStore, PutPayload};
use std::{sync::Arc, time::Duration};

/// Where the bucket is and how to reach it: the standard `AWS_*` variables, passed in
/// explicitly so configuration stays testable (`AWS_ENDPOINT_URL`, `AWS_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`…).
#[derive(Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// Keys are stored under `<prefix>/` when not empty.
    pub prefix: String,
    /// `(variable, value)` pairs, e.g. `("AWS_REGION", "eu-west-1")`.
    pub aws: Vec<(String, String)>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The variables carry credentials: only their names print.
        let names: Vec<&str> = self.aws.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("S3Settings").field("bucket", &self.bucket).field("prefix", &self.prefix).field("aws", &names).finish()
    }
}

impl S3Settings {
    /// Parses `s3://bucket[/prefix]`; `aws` are the `AWS_*` variables to use.
    pub fn parse(url: &str, aws: Vec<(String, String)>) -> Result<S3Settings, String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| "must be fs or s3://bucket[/prefix]".to_string())?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !bucket_ok {
            return Err(format!("'{bucket}' is not an S3 bucket name (3–63 lowercase letters, digits, dots and hyphens)"));
        }
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() && check_key(prefix).is_err() {
            return Err(format!("the prefix '{prefix}' may only hold letters, digits, '_' and '-' between slashes"));
        }
        Ok(S3Settings { bucket: bucket.to_string(), prefix: prefix.to_string(), aws })
    }

    /// `s3://bucket[/prefix]`, as configured.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// An S3 bucket (or a prefix in one) as a [`BlobStore`].
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
}

impl S3BlobStore {
    /// Builds the client (no request is made: an unreachable bucket shows in `/readyz`).
    pub fn new(settings: &S3Settings) -> Result<S3BlobStore, String> {
        // Fail within seconds rather than minutes: the job queue retries a failed read.
        // (Client options first: the AWS_* variables below, e.g. AWS_ALLOW_HTTP, add to them.)
        let retry = object_store::RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(20), ..Default::default() };
        let client = object_store::ClientOptions::new().with_connect_timeout(Duration::from_secs(5)).with_timeout(Duration::from_secs(60));
        let mut builder = AmazonS3Builder::new().with_client_options(client).with_retry(retry).with_bucket_name(&settings.bucket);
        for (name, value) in &settings.aws {
            // Unknown AWS_* variables (a profile name, the CLI's pager…) are not ours to refuse.
            if let Ok(key) = name.to_ascii_lowercase().parse() {
                builder = builder.with_config(key, value);
            }
        }
        let store = builder.build().map_err(|e| e.to_string())?;
        Ok(S3BlobStore { store: Arc::new(store), prefix: settings.prefix.clone(), url: settings.url() })
    }

    fn location(&self, key: &str) -> std::io::Result<Path> {
        check_key(key)?;
        Ok(if self.prefix.is_empty() { Path::from(key) } else { Path::from(format!("{}/{key}", self.prefix)) })
    }
}

fn io_error(e: object_store::Error) -> std::io::Error {
    let kind = match &e {
        object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, e)
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        let location = self.location(key)?;
        self.store.put(&location, PutPayload::from(bytes)).await.map(|_| ()).map_err(io_error)
    }

    async fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        let location = self.location(key)?;
        match self.store.get(&location).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(io_error)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn delete(&self, key: &str) -> std::io::Result<()> {
        let location = self.location(key)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn list(&self) -> std::io::Result<Vec<String>> {
        use futures::TryStreamExt;
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        let objects: Vec<_> = self.store.list(prefix.as_ref()).try_collect().await.map_err(io_error)?;
        let strip = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        Ok(objects.into_iter().filter_map(|o| o.location.as_ref().strip_prefix(strip.as_str()).map(str::to_string)).collect())
    }

    async fn check(&self) -> std::io::Result<()> {
        // A probe for a key that never exists: "not found" proves the bucket answers and
        // the credentials are accepted.
        match self.store.head(&self.location("readyz-probe")?).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls_parse_and_refuse_what_s3_would() {
        let s = S3Settings::parse("s3://attest-docs", vec![]).unwrap();
        assert_eq!((s.bucket.as_str(), s.prefix.as_str()), ("attest-docs", ""));
        let s = S3Settings::parse("s3://attest-docs/prod/eu/", vec![]).unwrap();
        assert_eq!((s.bucket.as_str(), s.prefix.as_str(), s.url().as_str()), ("attest-docs", "prod/eu", "s3://attest-docs/prod/eu"));
        for bad in ["attest-docs", "s3://", "s3://Attest", "s3://a", "s3://docs/../x", "s3://docs/a b", "gs://docs"] {
            assert!(S3Settings::parse(bad, vec![]).is_err(), "{bad}");
        }
        let secret = S3Settings::parse("s3://docs", vec![("AWS_SECRET_ACCESS_KEY".into(), "hunter2".into())]).unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
