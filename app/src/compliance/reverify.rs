//! Re-verification: a new photo ID for an approved PS Form 1583 record (its ID expires).
//! A linked follow-up verification is created with the applicant pre-filled; it asks only
//! for the photo ID (and the selfie when the flow requires one). Its approval makes its
//! photo ID box 8 of the original record, in the history of both.

use crate::{
    access::Actor,
    error::AppError,
    flows::{DocumentRole, Flow},
    journal::{self, Change, Tx},
    state::Environment,
    store::{batch::Statement, now_ms, Db},
    verifications::{service as verifications, Verification, VerificationStatus},
};
use serde_json::{json, Value};

/// Starts a re-verification of approved record `id`: returns the follow-up (`started`).
pub async fn start(db: &Db, environment: Environment, workspace_id: &str, flow: Flow, id: &str, actor: &Actor) -> Result<Verification, AppError> {
    super::service::require_usps1583(flow)?;
    let original = verifications::get(db, workspace_id, flow, id).await?;
    if original.status != VerificationStatus::Approved {
        return Err(AppError::BadRequest("Only an approved verification can be re-verified.".into()));
    }
    let today = chrono::Utc::now().date_naive().to_string();
    if original.mailbox.as_ref().and_then(|m| m.closed_on.as_deref()).is_some_and(|c| c <= today.as_str()) {
        return Err(AppError::BadRequest("The mailbox is closed: there is nothing to re-verify.".into()));
    }
    if let Some(pending) = pending_for(db, id).await? {
        return Err(AppError::Conflict(format!("A re-verification is already in progress: {pending}.")));
    }
    let photo = original.photo_id.clone().ok_or_else(|| AppError::BadRequest("The verification has no photo ID to renew.".into()))?;
    let mut body = json!({
        "applicant": original.applicant,
        "photo_id": { "type": photo.document_type, "country": photo.country },
        "metadata": { "reverification_of": id },
    });
    if let Some(reference) = &original.reference {
        body["reference"] = json!(reference);
    }
    if let Some(poa) = &original.proof_of_address {
        body["proof_of_address"] = json!({ "type": poa.document_type, "country": poa.country });
    }
    // One batch: the follow-up, its link, and the original's history entry and event.
    let (follow_up, mut batch) = verifications::create_batch(db, environment, workspace_id, flow, &body, actor).await?;
    batch.push(
        Statement::new("INSERT INTO reverifications (follow_up_id, original_id, workspace_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&follow_up.id)
            .bind(id)
            .bind(workspace_id)
            .bind(now_ms()),
    );
    let event = "verification.reverification_started";
    let now = now_ms();
    batch.push(Statement::new("UPDATE verifications SET version = version + 1, updated_at = $1 WHERE id = $2").bind(now).bind(id));
    let change = Change { workspace_id, verification_id: id, document_id: None, event, actor, data: json!({ "follow_up_id": follow_up.id }) };
    journal::record_into(&mut batch, &change);
    let mut object = original.clone();
    object.version += 1;
    object.updated_at = crate::dates::rfc3339(now);
    let object = serde_json::to_value(&object).map_err(|e| AppError::internal("event payload", e))?;
    let endpoints = crate::webhooks::service::cached_subscribers(db, workspace_id, event).await?;
    let data = json!({ "object": object, "follow_up_id": follow_up.id });
    journal::emit_data_into(&mut batch, &endpoints, workspace_id, event, id, original.version + 1, data);
    batch.commit(db).await?;
    db.wake_workers();
    Ok(follow_up)
}

async fn pending_for(db: &Db, original_id: &str) -> Result<Option<String>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT r.follow_up_id FROM reverifications r JOIN verifications v ON v.id = r.follow_up_id \
         WHERE r.original_id = $1 AND r.applied_at IS NULL AND v.status NOT IN ('rejected', 'canceled')",
    )
    .bind(original_id)
    .fetch_optional(db.pool())
    .await?)
}

/// Whether `id` is a re-verification follow-up (it needs no proof of address).
pub async fn is_follow_up(tx: &mut Tx, id: &str) -> Result<bool, AppError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT original_id FROM reverifications WHERE follow_up_id = $1").bind(id).fetch_optional(&mut **tx).await?;
    Ok(found.is_some())
}

/// The roles a follow-up must have before it is submitted: the flow's, less the proof of address.
pub fn follow_up_roles(required: &[DocumentRole]) -> Vec<DocumentRole> {
    required.iter().copied().filter(|r| *r != DocumentRole::ProofOfAddress).collect()
}

/// Called in the transaction that approves verification `id`: when it is a follow-up,
/// its photo ID becomes box 8 of the original record, and both histories say so.
pub async fn apply(tx: &mut Tx, workspace_id: &str, id: &str, actor: &Actor) -> Result<(), AppError> {
    let original: Option<String> =
        sqlx::query_scalar("SELECT original_id FROM reverifications WHERE follow_up_id = $1 AND applied_at IS NULL").bind(id).fetch_optional(&mut **tx).await?;
    let Some(original) = original else { return Ok(()) };
    sqlx::query("UPDATE reverifications SET applied_at = $1 WHERE follow_up_id = $2").bind(now_ms()).bind(id).execute(&mut **tx).await?;
    let extracted: Option<Option<String>> = sqlx::query_scalar(
        "SELECT extracted FROM documents WHERE verification_id = $1 AND role = 'photo_id' AND status <> 'canceled' ORDER BY id DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let extracted: Value = extracted.flatten().and_then(|e| serde_json::from_str(&crate::documents::pii::open(&e).ok()?).ok()).unwrap_or(Value::Null);
    let box_8 = json!({ "8b": extracted["document_number"], "8d": extracted["expiry_date"] });
    journal::record(
        tx,
        &Change {
            workspace_id,
            verification_id: id,
            document_id: None,
            event: "verification.reverification_applied",
            actor,
            data: json!({ "original_id": original, "box_8": box_8 }),
        },
    )
    .await?;
    let change = Change {
        workspace_id,
        verification_id: &original,
        document_id: None,
        event: "verification.reverified",
        actor,
        data: json!({ "follow_up_id": id, "box_8": box_8 }),
    };
    verifications::touch_and_record_with(tx, workspace_id, Flow::Usps1583, &original, change, [("follow_up_id".to_string(), json!(id))].into_iter().collect())
        .await?;
    Ok(())
}
