//! Document files in an S3-compatible bucket (`ATTEST_BLOB_STORE=s3://…`), against a
//! real S3 server on loopback (moto's server mode, which `scripts/test` installs from
//! PyPI and starts; `ATTEST_TEST_S3_ENDPOINT` names it).

use crate::{
    both_engines,
    helpers::{jpeg, pdf, usps_body, Engine, TestApp},
};
use server::config::{Config, FlagConfig};
use std::{collections::HashMap, time::Duration};

/// The S3 server's endpoint, or `None` (the test is skipped, and says so) when none is
/// configured; a failure under `CI` or `ATTEST_TEST_REQUIRE_S3=1` (scripts/test sets it).
pub fn s3_endpoint() -> Option<String> {
    let url = std::env::var("ATTEST_TEST_S3_ENDPOINT").ok().filter(|url| !url.is_empty());
    attest_test_support::needs::check(&attest_test_support::needs::S3, url.is_some(), "an S3 test")
        .then(|| url.unwrap_or_default().trim_end_matches('/').to_string())
}

/// A fresh bucket on the test S3 server (moto takes an unsigned `PUT /bucket`).
pub async fn fresh_bucket(endpoint: &str) -> String {
    let bucket = format!("attest-{}", app::store::ids::new_id("b").trim_start_matches("b_").to_ascii_lowercase().replace('_', "-"));
    let response = reqwest::Client::new().put(format!("{endpoint}/{bucket}")).send().await.expect("the S3 server answers");
    assert!(response.status().is_success(), "creating bucket {bucket}: {}", response.status());
    bucket
}

/// One master key for every process of a test: they must all open each other's files.
pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The settings of a process that keeps documents under `s3://bucket/docs`.
pub fn s3_env(endpoint: &str, bucket: &str) -> Vec<(String, String)> {
    vec![
        ("ATTEST_BLOB_STORE".into(), format!("s3://{bucket}/docs")),
        ("ATTEST_MASTER_KEY".into(), MASTER_KEY.into()),
        ("AWS_ENDPOINT_URL".into(), endpoint.into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "attest-test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "attest-test-secret".into()),
        ("AWS_ALLOW_HTTP".into(), "true".into()),
    ]
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The configuration of another process on the same database as `app`, with its own
/// data directory (so nothing can be shared through the local disk) and `extra` settings.
pub fn other_process(app: &TestApp, data_dir: &std::path::Path, extra: &[(String, String)]) -> Config {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("ATTEST_ENV".into(), "sandbox".into());
    env.insert("ATTEST_MFA_REQUIRED".into(), "false".into());
    env.insert("DATABASE_URL".into(), app.config.database_url().to_string());
    if let Ok(models) = std::env::var("ATTEST_MODELS_DIR") {
        env.insert("ATTEST_MODELS_DIR".into(), models);
    }
    env.extend(extra.iter().cloned());
    let flags = FlagConfig { config_file: None, addr: Some("127.0.0.1:0".into()), data_dir: Some(data_dir.to_path_buf()) };
    Config::from_sources(&flags, &env).expect("configuration of the other process")
}

/// Polls until the verification leaves `submitted`.
pub async fn decided(app: &TestApp, token: &str, flow: &str, id: &str) -> serde_json::Value {
    for _ in 0..600 {
        let v: serde_json::Value =
            app.client.get(app.url(&format!("/api/v1/{flow}/verifications/{id}"))).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        if v["status"] != "submitted" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("verification {id} was not decided within 30 s");
}

fn has_plaintext_marker(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| w == b"\xFF\xD8\xFF") || bytes.windows(4).any(|w| w == b"%PDF") || bytes.windows(4).any(|w| w == b"JFIF")
}

/// Uploads go to the bucket sealed, and come back whole through the API and the
/// dashboard's preview; nothing of them is on the local disk, and no object in the
/// bucket holds a JPEG or PDF marker (the store only ever sees ciphertext).
async fn documents_in_s3_are_ciphertext_and_read_back(engine: Engine) {
    let Some(endpoint) = s3_endpoint() else { return };
    let bucket = fresh_bucket(&endpoint).await;
    let env = s3_env(&endpoint, &bucket);
    let app = TestApp::spawn_with(engine, &pairs(&env)).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let base = format!("/usps1583/verifications/{id}/documents");
    let (status, passport) = api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await;
    assert_eq!(status, 201, "{passport}");
    let (status, lease) = api.upload(&base, &[("type", "lease"), ("country", "US")], vec![("file", pdf())]).await;
    assert_eq!(status, 201, "{lease}");

    for (doc, original, media_type) in [(&passport, jpeg(), "image/jpeg"), (&lease, pdf(), "application/pdf")] {
        let doc_id = doc["id"].as_str().unwrap();
        let response = app.client.get(api.url(&format!("{base}/{doc_id}/file?side=front"))).bearer_auth(&api.token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], media_type);
        assert_eq!(response.bytes().await.unwrap().to_vec(), original, "the API download comes from the bucket");
    }
    // The dashboard's preview reads the same object.
    let browser = app.new_client();
    assert_eq!(app.login(&browser, "owner@acme.test", "a long enough password").await.status(), 200);
    let passport_id = passport["id"].as_str().unwrap();
    let preview = browser.get(app.url(&format!("/w/acme/documents/{passport_id}/front"))).send().await.unwrap();
    assert_eq!(preview.status(), 200);
    assert_eq!(preview.bytes().await.unwrap().to_vec(), jpeg());

    // What is in the bucket: sealed files only, under the configured prefix.
    let store = server::startup::blob_store(&app.config).unwrap();
    let keys = store.list().await.unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in &keys {
        let raw = store.get(key).await.unwrap().unwrap();
        assert!(raw.starts_with(b"ATD1"), "{key} is a sealed file");
        assert!(!has_plaintext_marker(&raw), "plaintext in s3://{bucket}/docs/{key}");
    }
    let listing = reqwest::get(format!("{endpoint}/{bucket}?list-type=2")).await.unwrap().text().await.unwrap();
    assert_eq!(listing.matches("<Key>docs/").count(), 2, "objects live under the prefix: {listing}");
    assert!(!app.config.data_dir.join("documents").exists(), "nothing is written to the local disk");
}
both_engines!(documents_in_s3_are_ciphertext_and_read_back);

/// The scaled-out layout: a web process (no workers) receives the documents, a worker
/// process with a data directory of its own reads them from the bucket and decides.
/// With the local-disk store the same worker cannot read them (`file_unavailable`).
async fn a_worker_in_another_process_reads_what_the_web_process_stored(engine: Engine) {
    let Some(endpoint) = s3_endpoint() else { return };
    let bucket = fresh_bucket(&endpoint).await;
    let env = s3_env(&endpoint, &bucket);
    let mut web_env = pairs(&env);
    web_env.push(("ATTEST_WORKERS", "false"));
    let app = TestApp::spawn_with(engine, &web_env).await;
    let api = app.api("acme").await;
    let (id, _) = api.submitted("scale-out").await;

    let worker_dir = tempfile::tempdir().unwrap();
    let worker_config = other_process(&app, worker_dir.path(), &env);
    let worker_db = server::startup::open_database(&worker_config).await.unwrap();
    let worker_state = server::startup::app_state(&worker_config, worker_db).unwrap();
    let worker = tokio::spawn(server::worker::run(worker_state));
    let v = decided(&app, &api.token, "usps1583", &id).await;
    worker.abort();
    // The synthetic files hold no real document: each is read and fails on its own
    // terms, never because the file was out of reach.
    for doc in v["documents"].as_array().unwrap() {
        assert_ne!(doc["failure_reason"], "file_unavailable", "{doc}");
        assert_ne!(doc["failure_reason"], "provider_error", "{doc}");
    }
    assert!(!worker_dir.path().join("documents").exists());
}
both_engines!(a_worker_in_another_process_reads_what_the_web_process_stored);

/// `/readyz` answers 503 while the bucket cannot be reached, naming the blob store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_blob_store_is_unreachable() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let env = s3_env(&endpoint, "attest-nowhere");
    let app = TestApp::spawn_with(Engine::Sqlite, &pairs(&env)).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!((body["database"].as_str(), body["status"].as_str()), (Some("ok"), Some("unavailable")), "{body}");
    assert_ne!(body["blob_store"], "ok", "{body}");

    // And it is ready once the bucket answers.
    if let Some(endpoint) = s3_endpoint() {
        let bucket = fresh_bucket(&endpoint).await;
        let app = TestApp::spawn_with(Engine::Sqlite, &pairs(&s3_env(&endpoint, &bucket))).await;
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["blob_store"], "ok");
    }
}

/// `attest admin migrate-blobs --to s3://…` copies a single box's documents into the
/// bucket, checking each copy by its hash; a second run copies nothing, and a damaged
/// object in the bucket is copied again. Afterwards an S3-configured process reads
/// every document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_blobs_copies_every_document_verified_and_resumes() {
    let Some(endpoint) = s3_endpoint() else { return };
    let app = TestApp::spawn_with(Engine::Sqlite, &[("ATTEST_MASTER_KEY", MASTER_KEY)]).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let base = format!("/usps1583/verifications/{id}/documents");
    let (status, passport) = api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![("file", jpeg()), ("back", pdf())]).await;
    assert_eq!(status, 201, "{passport}");
    let (status, _) = api.upload(&base, &[("type", "lease"), ("country", "US")], vec![("file", pdf())]).await;
    assert_eq!(status, 201);

    let bucket = fresh_bucket(&endpoint).await;
    let target = format!("s3://{bucket}/migrated");
    let run = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_attest"));
        command
            .args(["admin", "migrate-blobs", "--to", &target])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ATTEST_DATA_DIR", &app.config.data_dir)
            .env("DATABASE_URL", app.config.database_url())
            .env("ATTEST_MASTER_KEY", MASTER_KEY)
            .env("ATTEST_LOG", "warn");
        for (k, v) in s3_env(&endpoint, &bucket).into_iter().filter(|(k, _)| k.starts_with("AWS_")) {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        stdout
    };
    let first = run();
    assert!(first.contains("3 copied, 0 already there"), "{first}");
    let second = run();
    assert!(second.contains("0 copied, 3 already there"), "a second run resumes: {second}");

    // An object damaged in the bucket (a copy cut short) is found by its hash and copied again.
    let mut s3 = s3_env(&endpoint, &bucket);
    s3[0].1 = target.clone();
    let s3_config = other_process(&app, tempfile::tempdir().unwrap().path(), &s3);
    let s3_store = server::startup::blob_store(&s3_config).unwrap();
    let keys = s3_store.list().await.unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    s3_store.put(&keys[0], b"ATD1 truncated".to_vec()).await.unwrap();
    let third = run();
    assert!(third.contains("1 copied, 2 already there"), "{third}");

    // An S3-configured process opens every document, byte for byte.
    let files = app::documents::blobs::DocumentFiles { store: s3_store, master: s3_config.master_key().unwrap() };
    let local = server::startup::blob_store(&app.config).unwrap();
    for key in local.list().await.unwrap() {
        let original = app::documents::blobs::DocumentFiles { store: local.clone(), master: app.config.master_key().unwrap() }.get(&key).await.unwrap();
        assert_eq!(files.get(&key).await.unwrap(), original, "{key}");
    }
}
