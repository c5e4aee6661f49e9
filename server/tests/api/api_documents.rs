//! Documents over the API: multipart upload, sniffing, limits, encryption at rest,
//! download, cancellation and decisions, with the guide's exact messages.

use crate::{
    both_engines,
    helpers::{jpeg, pdf, usps_body, Engine, TestApp},
};
use serde_json::json;

async fn uploads_are_sniffed_encrypted_and_downloadable(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let base = format!("/usps1583/verifications/{id}/documents");
    let mut back = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    back.extend(b"PDF417-back-side-bytes");
    let (status, doc) = api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![("file", jpeg()), ("back", back.clone())]).await;
    assert_eq!(status, 201, "{doc}");
    assert!(doc["id"].as_str().unwrap().starts_with("doc_"));
    assert_eq!(doc["role"], "photo_id");
    assert_eq!(doc["status"], "uploaded");
    assert_eq!(doc["sides"], json!(["front", "back"]));
    let doc_id = doc["id"].as_str().unwrap();

    let response = app.client.get(api.url(&format!("{base}/{doc_id}/file?side=back"))).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png", "the type comes from the content, not the name");
    assert_eq!(response.bytes().await.unwrap().to_vec(), back);

    // At rest, nothing of the file is readable.
    let mut stored = 0;
    for entry in walk(&app.config.data_dir.join("documents")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"PDF417"), "plaintext found in {}", entry.display());
        stored += 1;
    }
    assert_eq!(stored, 2, "front and back are stored");

    let (status, listed) = api.get(&base).await;
    assert_eq!((status, listed["data"][0]["id"].clone()), (200, json!(doc_id)));
    let (_, verification) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(verification["documents"][0]["id"], json!(doc_id));
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE type = 'document.uploaded'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(events, 1);
}
both_engines!(uploads_are_sniffed_encrypted_and_downloadable);

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

async fn upload_refusals_use_the_guides_messages(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let base = format!("/usps1583/verifications/{id}/documents");

    assert_eq!(
        api.upload(&base, &[("type", "credit_card"), ("country", "US")], vec![("file", jpeg())]).await,
        (400, json!({ "message": "Document type not allowed." }))
    );
    assert_eq!(
        api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![]).await,
        (400, json!({ "message": "The document could not be created by missing data: file." }))
    );
    assert_eq!(
        api.upload(&base, &[], vec![("file", jpeg())]).await,
        (400, json!({ "message": "The document could not be created by missing data: type, country." }))
    );
    let (status, body) = api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![("file", b"GIF89a\x01\0\x01\0".to_vec())]).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"]["file"], json!(["The file must be a file of type: jpeg, png, webp, heic, pdf."]));
    let mut too_big = jpeg();
    too_big.resize(10 * 1024 * 1024 + 1, 0);
    let (status, body) = api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![("file", too_big)]).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"]["file"], json!(["The file may not be greater than 10240 kilobytes."]));
    let (status, body) = api.upload(&base, &[("type", "lease"), ("country", "usa")], vec![("file", pdf())]).await;
    assert_eq!((status, body["message"].clone()), (422, json!("The given data was invalid.")));

    assert_eq!(api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await.0, 201);
    assert_eq!(
        api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await,
        (400, json!({ "message": "The verification already has a passport document." }))
    );
    let documents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(documents, 1, "refused uploads store nothing");

    let not_multipart = app.client.post(api.url(&base)).bearer_auth(&api.token).json(&json!({})).send().await.unwrap();
    assert_eq!(not_multipart.status(), 415);
}
both_engines!(upload_refusals_use_the_guides_messages);

async fn deleting_cancels_a_document_and_frees_its_type(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let base = format!("/usps1583/verifications/{id}/documents");
    let (_, doc) = api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await;
    let doc_id = doc["id"].as_str().unwrap();
    let (status, canceled) = api.delete(&format!("{base}/{doc_id}")).await;
    assert_eq!((status, canceled["status"].clone()), (200, json!("canceled")));
    assert_eq!(api.delete(&format!("{base}/{doc_id}")).await, (400, json!({ "message": "The document is canceled." })));
    assert_eq!(
        api.post(&format!("{base}/{doc_id}/decision"), json!({ "decision": "approved", "reason": "looks fine" })).await,
        (400, json!({ "message": "The document is canceled." }))
    );
    assert_eq!(api.upload(&base, &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await.0, 201, "the type is free again");
    let (_, listed) = api.get(&base).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "the canceled document is kept for audit");
}
both_engines!(deleting_cancels_a_document_and_frees_its_type);

async fn documents_are_decided_once_processed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let base = format!("/usps1583/verifications/{id}/documents");
    let (_, doc) = api.upload(&base, &[("type", "lease"), ("country", "US")], vec![("file", pdf())]).await;
    let doc_id = doc["id"].as_str().unwrap();
    let decision = json!({ "decision": "approved", "reason": "Address matches." });
    assert_eq!(api.post(&format!("{base}/{doc_id}/decision"), decision.clone()).await, (400, json!({ "message": "The document has not been processed yet." })));
    sqlx::query("UPDATE documents SET status = 'extracted' WHERE id = $1").bind(doc_id).execute(app.db.pool()).await.unwrap();
    let (status, decided) = api.post(&format!("{base}/{doc_id}/decision"), decision).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], "approved");
    assert_eq!(decided["decision"]["reason"], "Address matches.");
    assert_eq!(decided["version"], 2);
}
both_engines!(documents_are_decided_once_processed);
