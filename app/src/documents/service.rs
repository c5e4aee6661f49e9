//! Document upload, listing, download, cancellation and per-document decisions.

use super::{blobs::DocumentFiles, sniff, Document, DocumentStatus, Extracted};
use crate::{
    access::Actor,
    dates::rfc3339,
    error::{AppError, FieldErrors},
    flows::{self, DocumentRole, Flow},
    journal::{self, Change, Tx},
    store::{ids::new_id, now_ms, Db},
    verifications::{
        service::{self as verifications, actor_label, ensure_accepts_upload, ensure_started, parse_decision, CANCELED},
        DecisionOutcome, Verification, VerificationStatus,
    },
};
use serde_json::json;
use sqlx::{any::AnyRow, Row};
use std::collections::HashMap;

/// Largest accepted file, per side (SPEC §3).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
pub const DOCUMENT_CANCELED: &str = "The document is canceled.";
pub const TYPE_NOT_ALLOWED: &str = "Document type not allowed.";

const COLUMNS: &str = "id, verification_id, workspace_id, type, role, country, status, front_blob, front_media_type, back_blob, back_media_type, \
    extracted, failure_reason, decision_outcome, decision_reason, decision_by, decision_at, version, created_at, updated_at";

/// One side of an upload as received.
#[derive(Debug, Clone)]
pub enum Part {
    Missing,
    TooLarge,
    Bytes(Vec<u8>),
}

/// A multipart upload, parsed by the adapter.
#[derive(Debug, Clone)]
pub struct Upload {
    pub document_type: Option<String>,
    pub country: Option<String>,
    pub front: Part,
    pub back: Part,
}

fn decode(row: &AnyRow) -> Result<Document, AppError> {
    decode_prefixed(row, "")
}

/// The document columns aliased `d_<column>`, for reading documents in a join.
pub(crate) fn joined_columns(table: &str) -> String {
    COLUMNS.split(", ").map(|c| format!("{table}.{c} AS d_{c}")).collect::<Vec<_>>().join(", ")
}

/// Decodes a document whose columns carry `prefix` (`""`, or `"d_"` in a join).
pub(crate) fn decode_prefixed(row: &AnyRow, prefix: &str) -> Result<Document, AppError> {
    let col = |name: &str| format!("{prefix}{name}");
    let role: String = row.try_get(col("role").as_str())?;
    let status: String = row.try_get(col("status").as_str())?;
    let extracted: Option<String> = row.try_get(col("extracted").as_str())?;
    let back: Option<String> = row.try_get(col("back_blob").as_str())?;
    Ok(Document {
        id: row.try_get(col("id").as_str())?,
        verification_id: row.try_get(col("verification_id").as_str())?,
        document_type: row.try_get(col("type").as_str())?,
        role: role.parse().map_err(|_| AppError::internal("stored role", &role))?,
        country: row.try_get(col("country").as_str())?,
        status: DocumentStatus::parse(&status).ok_or_else(|| AppError::internal("stored document status", &status))?,
        sides: if back.is_some() { vec!["front".into(), "back".into()] } else { vec!["front".into()] },
        extracted: extracted
            .map(|e| serde_json::from_str::<Extracted>(&super::pii::open(&e)?).map_err(|err| AppError::internal("stored extraction", err)))
            .transpose()?,
        failure_reason: row.try_get(col("failure_reason").as_str())?,
        decision: verifications::decision_from_columns(row, prefix)?,
        version: row.try_get(col("version").as_str())?,
        created_at: rfc3339(row.try_get(col("created_at").as_str())?),
        updated_at: rfc3339(row.try_get(col("updated_at").as_str())?),
    })
}

/// The documents of one verification, oldest first.
pub async fn list_for<'e, E>(executor: E, verification_id: &str) -> Result<Vec<Document>, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(&format!("SELECT {COLUMNS} FROM documents WHERE verification_id = $1 ORDER BY id"))
        .bind(verification_id)
        .fetch_all(executor)
        .await?
        .iter()
        .map(decode)
        .collect()
}

/// The documents of several verifications, grouped by verification id.
pub async fn list_for_many(pool: &sqlx::AnyPool, ids: &[String]) -> Result<HashMap<String, Vec<Document>>, AppError> {
    let mut grouped: HashMap<String, Vec<Document>> = HashMap::new();
    if ids.is_empty() {
        return Ok(grouped);
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!("SELECT {COLUMNS} FROM documents WHERE verification_id IN ({}) ORDER BY id", placeholders.join(", "));
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id);
    }
    for row in query.fetch_all(pool).await? {
        let document = decode(&row)?;
        grouped.entry(document.verification_id.clone()).or_default().push(document);
    }
    Ok(grouped)
}

async fn find_document<'e, E>(executor: E, verification_id: &str, document_id: &str) -> Result<(Document, AnyRow), AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM documents WHERE id = $1 AND verification_id = $2"))
        .bind(document_id)
        .bind(verification_id)
        .fetch_optional(executor)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((decode(&row)?, row))
}

fn invalid_file(errors: &mut FieldErrors, field: &str, part: &Part, required: bool) -> Option<sniff::Format> {
    match part {
        Part::Missing => {
            let _ = required;
            None
        }
        Part::TooLarge => {
            errors.entry(field.into()).or_default().push(format!("The {field} may not be greater than 10240 kilobytes."));
            None
        }
        Part::Bytes(bytes) => match sniff::sniff(bytes) {
            Some(format) => Some(format),
            None => {
                errors.entry(field.into()).or_default().push(format!("The {field} must be a file of type: jpeg, png, webp, heic, pdf."));
                None
            }
        },
    }
}

pub async fn upload(
    db: &Db,
    files: &DocumentFiles,
    workspace_id: &str,
    flow: Flow,
    verification_id: &str,
    upload: Upload,
    actor: &Actor,
) -> Result<Document, AppError> {
    let verification = verifications::find(db.pool(), workspace_id, flow, verification_id).await?;
    ensure_accepts_upload(&verification.verification, None)?;

    let mut missing = Vec::new();
    if upload.document_type.is_none() {
        missing.push("type");
    }
    if upload.country.is_none() {
        missing.push("country");
    }
    if matches!(upload.front, Part::Missing) {
        missing.push("file");
    }
    if !missing.is_empty() {
        return Err(AppError::BadRequest(format!("The document could not be created by missing data: {}.", missing.join(", "))));
    }
    let document_type = upload.document_type.unwrap_or_default();
    let country = upload.country.unwrap_or_default();

    let config = flows::service::load(db, workspace_id, flow).await?;
    let declared = &verification.verification;
    let role = if ["selfie", flows::COURT_ORDER].contains(&document_type.as_str())
        || config.photo_id_types.contains(&document_type)
        || config.proof_of_address_types.contains(&document_type)
    {
        config.role_of(
            &document_type,
            declared.photo_id.as_ref().map(|p| p.document_type.as_str()),
            declared.proof_of_address.as_ref().map(|p| p.document_type.as_str()),
        )
    } else {
        None
    };
    let Some(role) = role.filter(|r| *r != DocumentRole::ProofOfAddress || flow == Flow::Usps1583 || !config.proof_of_address_types.is_empty()) else {
        return Err(AppError::BadRequest(TYPE_NOT_ALLOWED.into()));
    };
    ensure_accepts_upload(&verification.verification, Some(role))?;
    // A retake: the new document replaces the current one of its role.
    let replacing = verification.status == VerificationStatus::ResubmissionRequested;

    let mut errors = FieldErrors::new();
    if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
        errors.insert("country".into(), vec!["The country must be an ISO 3166-1 alpha-2 country code (e.g. US).".into()]);
    } else if config.is_forbidden(&document_type, &country) {
        errors.insert("country".into(), vec![format!("The type {document_type} is not accepted from country {country}.")]);
    }
    let front_format = invalid_file(&mut errors, "file", &upload.front, true);
    let back_format = invalid_file(&mut errors, "back", &upload.back, false);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }

    let existing = list_for(db.pool(), verification_id).await?;
    let active = existing.iter().filter(|d| d.status != DocumentStatus::Canceled && !(replacing && d.role == role));
    for other in active {
        if other.document_type == document_type || other.role == role {
            return Err(AppError::BadRequest(format!("The verification already has a {} document.", other.document_type)));
        }
    }

    let id = new_id("doc");
    let front_key = format!("{workspace_id}/{id}/front");
    let back_key = format!("{workspace_id}/{id}/back");
    let (front_bytes, back_bytes) = match (upload.front, upload.back) {
        (Part::Bytes(front), Part::Bytes(back)) => (front, Some(back)),
        (Part::Bytes(front), _) => (front, None),
        _ => return Err(AppError::internal("upload", "front part vanished")),
    };
    let front_size = front_bytes.len() as i64;
    let back_size = back_bytes.as_ref().map(|b| b.len() as i64);
    files.put(&front_key, front_bytes).await?;
    if let Some(back) = back_bytes {
        files.put(&back_key, back).await?;
    }

    let result = async {
        let now = now_ms();
        let mut tx = db.begin_write().await?;
        // Re-check under the write lock: a concurrent upload or submit may have won.
        verifications::lock(&mut tx, verification_id).await?;
        let current = verifications::find(&mut *tx, workspace_id, flow, verification_id).await?;
        ensure_accepts_upload(&current.verification, Some(role))?;
        let replacing = current.status == VerificationStatus::ResubmissionRequested;
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT type FROM documents WHERE verification_id = $1 AND status <> 'canceled' AND (type = $2 OR role = $3) AND NOT ($4 = 1 AND role = $3)",
        )
        .bind(verification_id)
        .bind(&document_type)
        .bind(role.code())
        .bind(i64::from(replacing))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(taken) = taken {
            return Err(AppError::BadRequest(format!("The verification already has a {taken} document.")));
        }
        let replaced = if replacing { replace_role(&mut tx, flow, workspace_id, verification_id, role, &id, actor).await? } else { Vec::new() };
        sqlx::query(
            "INSERT INTO documents (id, verification_id, workspace_id, type, role, country, status, front_blob, front_media_type, front_size, back_blob, back_media_type, back_size, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'uploaded', $7, $8, $9, $10, $11, $12, 1, $13, $13)",
        )
        .bind(&id)
        .bind(verification_id)
        .bind(workspace_id)
        .bind(&document_type)
        .bind(role.code())
        .bind(&country)
        .bind(&front_key)
        .bind(front_format.map(|f| f.media_type()).unwrap_or("application/octet-stream"))
        .bind(front_size)
        .bind(back_format.map(|_| back_key.clone()))
        .bind(back_format.map(|f| f.media_type()))
        .bind(back_size)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let document = record_document_change(
            &mut tx,
            flow,
            Change {
                workspace_id,
                verification_id,
                document_id: Some(&id),
                event: "document.uploaded",
                actor,
                data: if replaced.is_empty() {
                    json!({ "type": document_type, "role": role.code() })
                } else {
                    json!({ "type": document_type, "role": role.code(), "replaces": replaced })
                },
            },
            true,
        )
        .await?;
        tx.commit().await?;
        db.wake_workers();
        Ok(document)
    }
    .await;
    if result.is_err() {
        files.delete(&front_key).await;
        files.delete(&back_key).await;
    }
    result
}

/// A retake's upload: the current documents of `role` become `canceled` (kept, with their
/// files, for the history), each with its history entry naming the document that
/// replaces it. Returns their ids.
async fn replace_role(
    tx: &mut Tx,
    flow: Flow,
    workspace_id: &str,
    verification_id: &str,
    role: DocumentRole,
    by: &str,
    actor: &Actor,
) -> Result<Vec<String>, AppError> {
    let replaced: Vec<(String, String)> =
        sqlx::query_as("SELECT id, type FROM documents WHERE verification_id = $1 AND role = $2 AND status <> 'canceled' ORDER BY id")
            .bind(verification_id)
            .bind(role.code())
            .fetch_all(&mut **tx)
            .await?;
    for (old, document_type) in &replaced {
        sqlx::query("UPDATE documents SET status = 'canceled', version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(old)
            .execute(&mut **tx)
            .await?;
        let change = Change {
            workspace_id,
            verification_id,
            document_id: Some(old),
            event: "document.canceled",
            actor,
            data: json!({ "type": document_type, "replaced_by": by }),
        };
        record_document_change(tx, flow, change, false).await?;
    }
    Ok(replaced.into_iter().map(|(id, _)| id).collect())
}

/// Records a document change: the verification's version and history, and (when the
/// event is one webhooks carry) the outbox event with the document as its object.
pub(crate) async fn record_document_change(tx: &mut Tx, flow: Flow, change: Change<'_>, emit: bool) -> Result<Document, AppError> {
    let (workspace_id, verification_id, event) = (change.workspace_id, change.verification_id, change.event);
    let document_id = change.document_id.ok_or_else(|| AppError::internal("a document change", "without a document"))?;
    let _: Verification = verifications::touch_and_record(tx, workspace_id, flow, verification_id, change).await?;
    let (document, _) = find_document(&mut **tx, verification_id, document_id).await?;
    if emit {
        let object = serde_json::to_value(&document).map_err(|e| AppError::internal("event payload", e))?;
        journal::emit(tx, workspace_id, event, document_id, document.version, &object).await?;
    }
    Ok(document)
}

pub async fn get(db: &Db, workspace_id: &str, flow: Flow, verification_id: &str, document_id: &str) -> Result<Document, AppError> {
    verifications::find(db.pool(), workspace_id, flow, verification_id).await?;
    Ok(find_document(db.pool(), verification_id, document_id).await?.0)
}

pub async fn list(db: &Db, workspace_id: &str, flow: Flow, verification_id: &str) -> Result<Vec<Document>, AppError> {
    verifications::find(db.pool(), workspace_id, flow, verification_id).await?;
    list_for(db.pool(), verification_id).await
}

/// The decrypted file of one side: `(media type, bytes)`.
pub async fn file(
    db: &Db,
    files: &DocumentFiles,
    workspace_id: &str,
    flow: Flow,
    verification_id: &str,
    document_id: &str,
    side: &str,
) -> Result<(String, Vec<u8>), AppError> {
    verifications::find(db.pool(), workspace_id, flow, verification_id).await?;
    let (_, row) = find_document(db.pool(), verification_id, document_id).await?;
    let (blob, media_type): (Option<String>, Option<String>) = match side {
        "front" => (row.try_get("front_blob")?, row.try_get("front_media_type")?),
        "back" => (row.try_get("back_blob")?, row.try_get("back_media_type")?),
        _ => return Err(AppError::invalid("side", "The selected side is invalid.")),
    };
    let (Some(blob), Some(media_type)) = (blob, media_type) else { return Err(AppError::NotFound) };
    Ok((media_type, files.get(&blob).await?))
}

/// Cancels a document (kept for audit) and frees its type, while `started`.
pub async fn cancel(db: &Db, workspace_id: &str, flow: Flow, verification_id: &str, document_id: &str, actor: &Actor) -> Result<Document, AppError> {
    let mut tx = db.begin_write().await?;
    let verification = verifications::find(&mut *tx, workspace_id, flow, verification_id).await?;
    ensure_started(verification.status)?;
    let (document, _) = find_document(&mut *tx, verification_id, document_id).await?;
    if document.status == DocumentStatus::Canceled {
        return Err(AppError::BadRequest(DOCUMENT_CANCELED.into()));
    }
    sqlx::query("UPDATE documents SET status = 'canceled', version = version + 1, updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(document_id)
        .execute(&mut *tx)
        .await?;
    let change = Change {
        workspace_id,
        verification_id,
        document_id: Some(document_id),
        event: "document.canceled",
        actor,
        data: json!({ "type": document.document_type }),
    };
    let document = record_document_change(&mut tx, flow, change, false).await?;
    tx.commit().await?;
    db.wake_workers();
    Ok(document)
}

/// A reviewer's decision on one document.
pub async fn decide(
    db: &Db,
    workspace_id: &str,
    flow: Flow,
    verification_id: &str,
    document_id: &str,
    input: &crate::verifications::requests::DecisionInput,
    actor: &Actor,
) -> Result<Document, AppError> {
    let mut tx = db.begin_write().await?;
    let verification = verifications::find(&mut *tx, workspace_id, flow, verification_id).await?;
    let (document, _) = find_document(&mut *tx, verification_id, document_id).await?;
    if document.status == DocumentStatus::Canceled {
        return Err(AppError::BadRequest(DOCUMENT_CANCELED.into()));
    }
    if verification.status == VerificationStatus::Canceled {
        return Err(AppError::BadRequest(CANCELED.into()));
    }
    let (outcome, reason) = parse_decision(input)?;
    if matches!(document.status, DocumentStatus::Uploaded | DocumentStatus::Processing) {
        return Err(AppError::BadRequest("The document has not been processed yet.".into()));
    }
    sqlx::query("UPDATE documents SET status = $1, decision_outcome = $1, decision_reason = $2, decision_by = $3, decision_at = $4, version = version + 1, updated_at = $4 WHERE id = $5")
        .bind(outcome.code())
        .bind(&reason)
        .bind(actor_label(actor))
        .bind(now_ms())
        .bind(document_id)
        .execute(&mut *tx)
        .await?;
    let event = if outcome == DecisionOutcome::Approved { "document.approved" } else { "document.rejected" };
    let document = record_document_change(
        &mut tx,
        flow,
        Change { workspace_id, verification_id, document_id: Some(document_id), event, actor, data: json!({ "reason": reason }) },
        true,
    )
    .await?;
    tx.commit().await?;
    db.wake_workers();
    Ok(document)
}

/// A document's file for the dashboard, by document id within the workspace.
pub async fn file_in_workspace(db: &Db, files: &DocumentFiles, workspace_id: &str, document_id: &str, side: &str) -> Result<(String, Vec<u8>), AppError> {
    let row = sqlx::query("SELECT front_blob, front_media_type, back_blob, back_media_type FROM documents WHERE id = $1 AND workspace_id = $2")
        .bind(document_id)
        .bind(workspace_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    let (blob, media_type): (Option<String>, Option<String>) = match side {
        "front" => (row.try_get("front_blob")?, row.try_get("front_media_type")?),
        "back" => (row.try_get("back_blob")?, row.try_get("back_media_type")?),
        _ => return Err(AppError::NotFound),
    };
    let (Some(blob), Some(media_type)) = (blob, media_type) else { return Err(AppError::NotFound) };
    Ok((media_type, files.get(&blob).await?))
}
