//! `attest admin backup | restore | verify-backup` on the embedded SQLite instance (the
//! command refuses PostgreSQL, whose backup is pg_dump/PITR: SQLite only here).

use crate::{
    helpers::{jpeg, usps_body, Engine, TestApp},
    support::{attest, failed, succeeded, Serving},
};
use std::{
    collections::HashMap,
    path::Path,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("attest.db").display())
}

/// What was uploaded: document id → (verification id, front, back).
type Uploaded = Arc<Mutex<HashMap<String, (String, Vec<u8>, Vec<u8>)>>>;

/// Creates a verification and uploads a two-sided passport with unique bytes.
async fn create_with_document(client: &reqwest::Client, base: &str, token: &str, n: usize, uploaded: &Uploaded) -> bool {
    let created = client.post(format!("{base}/api/v1/usps1583/verifications")).bearer_auth(token).json(&usps_body()).send().await.unwrap();
    if created.status() != 201 {
        return false;
    }
    let id = created.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let mut front = jpeg();
    front.extend(format!("front side {n} of {id}").as_bytes());
    let mut back = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    back.extend(format!("back side {n} of {id}").as_bytes());
    let form = reqwest::multipart::Form::new()
        .text("type", "passport")
        .text("country", "GB")
        .part("file", reqwest::multipart::Part::bytes(front.clone()).file_name("front.jpg"))
        .part("back", reqwest::multipart::Part::bytes(back.clone()).file_name("back.png"));
    let response = client.post(format!("{base}/api/v1/usps1583/verifications/{id}/documents")).bearer_auth(token).multipart(form).send().await.unwrap();
    if response.status() != 201 {
        return false;
    }
    let doc = response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    uploaded.lock().unwrap().insert(doc, (id, front, back));
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_every_document_byte_for_byte() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let api = app.api("acme").await;
    let data_dir = app.config.data_dir.clone();
    let url = app.config.database_url().to_string();
    let uploaded: Uploaded = Default::default();
    for n in 0..4 {
        assert!(create_with_document(&app.client, &app.address, &api.token, n, &uploaded).await);
    }
    let before_backup: Vec<String> = uploaded.lock().unwrap().keys().cloned().collect();

    // A writer keeps creating verifications and documents while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (client, base, token, uploaded, stop) = (app.new_client(), app.address.clone(), api.token.clone(), uploaded.clone(), stop.clone());
        async move {
            let mut n = 100;
            while !stop.load(Ordering::Relaxed) && n < 160 {
                create_with_document(&client, &base, &token, n, &uploaded).await;
                n += 1;
            }
        }
    });
    while uploaded.lock().unwrap().len() < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let work = tempfile::tempdir().unwrap();
    let backup_dir = work.path().join("backup");
    let out = {
        let (data_dir, url, backup_dir) = (data_dir.clone(), url.clone(), backup_dir.clone());
        tokio::task::spawn_blocking(move || attest(&data_dir, &url, &["admin", "backup", "--to", backup_dir.to_str().unwrap()], &[])).await.unwrap()
    };
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let said = succeeded(&out);
    assert!(said.contains("NOT in this backup") && said.contains("master.key"), "says where the key must be kept: {said}");
    assert!(!backup_dir.join("master.key").exists(), "the master key is not copied next to the data unless asked");
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["master_key"]["included"], false);
    assert!(manifest["database"]["sha256"].as_str().unwrap().len() == 64);

    // A second backup into the same directory is refused.
    assert!(failed(&attest(&data_dir, &url, &["admin", "backup", "--to", backup_dir.to_str().unwrap()], &[])).contains("not empty"));
    let verified = succeeded(&attest(&data_dir, &url, &["admin", "verify-backup", backup_dir.to_str().unwrap()], &[]));
    assert!(verified.contains("intact"), "{verified}");

    // Restore elsewhere; the key travels separately (ATTEST_MASTER_KEY).
    let key = std::fs::read_to_string(data_dir.join("master.key")).unwrap();
    let restored = work.path().join("restored");
    let restored_url = sqlite_url(&restored);
    assert!(
        failed(&attest(&data_dir, &url, &["admin", "restore", "--from", backup_dir.to_str().unwrap()], &[])).contains("not empty"),
        "never over a live data directory"
    );
    let wrong_key = app::documents::crypto::MasterKey::generate().to_base64();
    assert!(failed(&attest(&restored, &restored_url, &["admin", "restore", "--from", backup_dir.to_str().unwrap()], &[("ATTEST_MASTER_KEY", &wrong_key)]))
        .contains("not the master key of this backup"));
    let said =
        succeeded(&attest(&restored, &restored_url, &["admin", "restore", "--from", backup_dir.to_str().unwrap()], &[("ATTEST_MASTER_KEY", key.trim())]));
    assert!(said.contains("restored"), "{said}");

    // `attest serve` on the copy reads every document of the snapshot, byte for byte.
    let serving = Serving::start(&restored, &restored_url, &[("ATTEST_MASTER_KEY", key.trim()), ("ATTEST_WORKERS", "false")]).await;
    let base = &serving.base;
    let client = reqwest::Client::new();

    let copy = app::store::Db::connect(&format!("sqlite://{}", restored.join("attest.db").display())).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, verification_id FROM documents").fetch_all(copy.pool()).await.unwrap();
    copy.close().await;
    let restored_ids: std::collections::HashSet<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    for id in &before_backup {
        assert!(restored_ids.contains(id.as_str()), "document {id}, uploaded before the backup, is restored");
    }
    let uploaded = uploaded.lock().unwrap().clone();
    for (doc, verification) in &rows {
        let (expected_verification, front, back) = uploaded.get(doc).expect("every restored document was uploaded by the test");
        assert_eq!(verification, expected_verification);
        for (side, expected) in [("front", front), ("back", back)] {
            let response = client
                .get(format!("{base}/api/v1/usps1583/verifications/{verification}/documents/{doc}/file?side={side}"))
                .bearer_auth(&api.token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{doc} {side}");
            assert_eq!(&response.bytes().await.unwrap().to_vec(), expected, "{doc} {side} is restored byte for byte");
        }
    }
    assert!(rows.len() >= 5, "{} documents restored", rows.len());

    // A damaged backup is refused by verify-backup and by restore.
    let manifest_docs = manifest["documents"].as_array().unwrap();
    let victim = backup_dir.join(manifest_docs[0]["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    assert!(failed(&attest(&data_dir, &url, &["admin", "verify-backup", backup_dir.to_str().unwrap()], &[])).contains("does not match the manifest"));
    let elsewhere = work.path().join("elsewhere");
    assert!(failed(&attest(&elsewhere, &sqlite_url(&elsewhere), &["admin", "restore", "--from", backup_dir.to_str().unwrap()], &[]))
        .contains("does not match the manifest"));
    assert!(!elsewhere.join("attest.db").exists(), "nothing restored from a damaged backup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_key_is_copied_only_when_asked_and_restored_with_it() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let api = app.api("acme").await;
    let uploaded: Uploaded = Default::default();
    assert!(create_with_document(&app.client, &app.address, &api.token, 0, &uploaded).await);
    let data_dir = app.config.data_dir.clone();
    let url = app.config.database_url().to_string();
    let work = tempfile::tempdir().unwrap();
    let backup_dir = work.path().join("with-key");
    let said = succeeded(&attest(&data_dir, &url, &["admin", "backup", "--to", backup_dir.to_str().unwrap(), "--include-master-key"], &[]));
    assert!(said.contains("keep this backup as safe as the key"), "{said}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(backup_dir.join("master.key")).unwrap().permissions().mode() & 0o077, 0, "owner-only");
    }
    let verified = succeeded(&attest(&data_dir, &url, &["admin", "verify-backup", backup_dir.to_str().unwrap()], &[]));
    assert!(verified.contains("2 document files decrypt"), "{verified}");
    let restored = work.path().join("restored");
    succeeded(&attest(&restored, &sqlite_url(&restored), &["admin", "restore", "--from", backup_dir.to_str().unwrap()], &[]));
    assert_eq!(std::fs::read(restored.join("master.key")).unwrap(), std::fs::read(data_dir.join("master.key")).unwrap());

    // PostgreSQL: refused, pointing to pg_dump.
    let refused =
        failed(&attest(&data_dir, "postgres://attest@127.0.0.1:1/attest", &["admin", "backup", "--to", work.path().join("pg").to_str().unwrap()], &[]));
    assert!(refused.contains("pg_dump"), "{refused}");
}
