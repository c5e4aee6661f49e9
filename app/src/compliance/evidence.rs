//! The evidence pack of a verification: one zip with the PS Form 1583 record (PDF, once
//! approved), every document image decrypted, the verification, its history and its
//! decision as JSON, and `manifest.json` with the SHA-256 of every other file. Its
//! download is an activity entry.

use super::service;
use crate::{
    access::Actor,
    activity::{self, Entry, RequestOrigin},
    documents::{blobs::DocumentFiles, service as documents},
    error::AppError,
    flows::Flow,
    store::{now_ms, Db},
    verifications::{service as verifications, VerificationStatus},
};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;

/// The file extension of a stored media type.
fn extension(media_type: &str) -> &'static str {
    match media_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "application/pdf" => "pdf",
        _ => "bin",
    }
}

/// The zip of verification `id` (documents decrypted), recorded in the activity log as
/// `verification.evidence_downloaded` by `actor`.
pub async fn pack(db: &Db, files: &DocumentFiles, workspace_id: &str, flow: Flow, id: &str, actor: &Actor) -> Result<Vec<u8>, AppError> {
    let v = verifications::get(db, workspace_id, flow, id).await?;
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    if flow == Flow::Usps1583 && v.status == VerificationStatus::Approved {
        entries.push(("form-1583.pdf".into(), service::form_1583_pdf(db, workspace_id, flow, id).await?));
        let boxes = service::form_1583(db, workspace_id, flow, id).await?;
        entries.push(("form-1583.json".into(), to_json(&boxes)?));
    }
    for doc in &v.documents {
        for side in &doc.sides {
            let (media_type, bytes) = documents::file(db, files, workspace_id, flow, id, &doc.id, side).await?;
            entries.push((format!("documents/{}-{}-{side}.{}", doc.id, doc.document_type, extension(&media_type)), bytes));
        }
    }
    let history = verifications::history(db, workspace_id, flow, id).await?;
    entries.push(("verification.json".into(), to_json(&v)?));
    entries.push(("history.json".into(), to_json(&history.data)?));
    entries.push(("decision.json".into(), to_json(&json!({ "decision": v.decision, "rules": v.rules, "selfie_match": v.selfie_match }))?));
    let manifest = json!({
        "verification_id": v.id,
        "generated_at": crate::dates::rfc3339(now_ms()),
        "algorithm": "sha256",
        "files": entries.iter().map(|(name, bytes)| json!({ "path": name, "bytes": bytes.len(), "sha256": hex::encode(Sha256::digest(bytes)) })).collect::<Vec<_>>(),
    });
    entries.push(("manifest.json".into(), to_json(&manifest)?));
    let zip = tokio::task::spawn_blocking(move || write_zip(&entries)).await.map_err(|e| AppError::internal("evidence pack", e))??;
    activity::record(
        db.pool(),
        Entry {
            workspace_id: Some(workspace_id),
            actor,
            action: "verification.evidence_downloaded",
            target: Some(id),
            detail: Some(json!({ "files": manifest["files"].as_array().map(Vec::len), "sha256": hex::encode(Sha256::digest(&zip)) })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    Ok(zip)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, AppError> {
    serde_json::to_vec_pretty(value).map_err(|e| AppError::internal("evidence JSON", e))
}

fn write_zip(entries: &[(String, Vec<u8>)]) -> Result<Vec<u8>, AppError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options).map_err(|e| AppError::internal("evidence zip", e))?;
        zip.write_all(bytes).map_err(|e| AppError::internal("evidence zip", e))?;
    }
    Ok(zip.finish().map_err(|e| AppError::internal("evidence zip", e))?.into_inner())
}
