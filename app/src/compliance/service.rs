//! The PS Form 1583 record as stored: the workspace's CMRA profile (box 2), the record
//! of one approved verification (JSON by box, PDF), and the mailboxes of a workspace
//! with their current photo-ID expiry, which the expiry job and the quarterly report read.

use super::{form, CmraProfile, Form1583};
use crate::{
    access::Actor,
    documents::{service as documents, DocumentStatus, Extracted},
    error::AppError,
    flows::{DocumentRole, Flow},
    journal,
    store::{now_ms, Db},
    verifications::{service as verifications, Mailbox, Verification, VerificationStatus},
};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::HashMap;

/// The 409 of a record asked for before its verification is approved.
pub const NOT_APPROVED: &str = "The PS Form 1583 record exists once the verification is approved.";
/// The 404-like answer for identity verifications: they have no 1583 record.
pub fn require_usps1583(flow: Flow) -> Result<(), AppError> {
    if flow == Flow::Usps1583 {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The workspace's CMRA name and address, when set.
pub async fn cmra_profile(db: &Db, workspace_id: &str) -> Result<Option<CmraProfile>, AppError> {
    let row = sqlx::query("SELECT name, address FROM cmra_profiles WHERE workspace_id = $1").bind(workspace_id).fetch_optional(db.pool()).await?;
    row.map(|r| {
        let address: String = r.try_get("address")?;
        Ok(CmraProfile { name: r.try_get("name")?, address: serde_json::from_str(&address).map_err(|e| AppError::internal("stored CMRA address", e))? })
    })
    .transpose()
}

/// Sets the CMRA name and address (validated like an applicant's address).
pub async fn save_cmra_profile(db: &Db, workspace_id: &str, body: &Value, actor: &Actor) -> Result<CmraProfile, AppError> {
    let profile = crate::verifications::validate::cmra_profile(body)?;
    let address = serde_json::to_string(&profile.address).map_err(|e| AppError::internal("CMRA address", e))?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO cmra_profiles (workspace_id, name, address, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id) DO UPDATE SET name = excluded.name, address = excluded.address, updated_at = excluded.updated_at",
    )
    .bind(workspace_id)
    .bind(&profile.name)
    .bind(address)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    journal::note(&mut tx, workspace_id, actor, "settings.cmra_updated", workspace_id, Some(json!({ "name": profile.name }))).await?;
    tx.commit().await?;
    Ok(profile)
}

/// The approved usps1583 verification `id` of the workspace: 404 when missing, 409 before approval.
pub async fn approved(db: &Db, workspace_id: &str, flow: Flow, id: &str) -> Result<Verification, AppError> {
    require_usps1583(flow)?;
    let v = verifications::get(db, workspace_id, flow, id).await?;
    if v.status != VerificationStatus::Approved {
        return Err(AppError::Conflict(NOT_APPROVED.into()));
    }
    Ok(v)
}

/// The verification whose photo ID is box 8 of `v`'s record: the latest approved
/// re-verification, or `v` itself.
pub async fn photo_source(db: &Db, workspace_id: &str, v: &Verification) -> Result<Verification, AppError> {
    let follow_up: Option<String> = sqlx::query_scalar(
        "SELECT follow_up_id FROM reverifications WHERE original_id = $1 AND workspace_id = $2 AND applied_at IS NOT NULL ORDER BY applied_at DESC LIMIT 1",
    )
    .bind(&v.id)
    .bind(workspace_id)
    .fetch_optional(db.pool())
    .await?;
    match follow_up {
        Some(id) => verifications::get(db, workspace_id, Flow::Usps1583, &id).await,
        None => Ok(v.clone()),
    }
}

/// The record of approved verification `id`, keyed by box.
pub async fn form_1583(db: &Db, workspace_id: &str, flow: Flow, id: &str) -> Result<Form1583, AppError> {
    let v = approved(db, workspace_id, flow, id).await?;
    let photo = photo_source(db, workspace_id, &v).await?;
    let profile = cmra_profile(db, workspace_id).await?;
    Ok(form::boxes(&v, &photo, profile.as_ref()))
}

/// [`form_1583`] as a printable PDF.
pub async fn form_1583_pdf(db: &Db, workspace_id: &str, flow: Flow, id: &str) -> Result<Vec<u8>, AppError> {
    let v = approved(db, workspace_id, flow, id).await?;
    let photo = photo_source(db, workspace_id, &v).await?;
    let profile = cmra_profile(db, workspace_id).await?;
    let boxes = form::boxes(&v, &photo, profile.as_ref());
    Ok(form::pdf(&v, &boxes))
}

/// The live (not canceled) document of `role`, newest first.
pub fn document_of(v: &Verification, role: DocumentRole) -> Option<&crate::documents::Document> {
    v.documents.iter().rev().find(|d| d.role == role && d.status != DocumentStatus::Canceled)
}

/// One mailbox of the workspace, as the compliance lists need it.
#[derive(Debug, Clone)]
pub struct MailboxRecord {
    pub id: String,
    pub workspace_id: String,
    pub status: VerificationStatus,
    pub name: String,
    pub mailbox: Mailbox,
    /// Box 8d of the record (approved records only).
    pub id_expires_on: Option<String>,
    pub decided_at: Option<i64>,
}

impl MailboxRecord {
    /// Whether the box has closed on or before `day` (`YYYY-MM-DD`).
    pub fn closed_by(&self, day: &str) -> bool {
        self.mailbox.closed_on.as_deref().is_some_and(|c| c <= day)
    }

    pub fn row(&self) -> super::BoxRow {
        super::BoxRow {
            verification_id: self.id.clone(),
            pmb: self.mailbox.pmb.clone(),
            name: self.name.clone(),
            status: self.status.code().to_string(),
            opened_on: self.mailbox.opened_on.clone(),
            closed_on: self.mailbox.closed_on.clone(),
            id_expires_on: self.id_expires_on.clone(),
        }
    }
}

/// Every usps1583 verification with a mailbox (of one workspace, or of all), each
/// approved one with its current photo-ID expiry (box 8d, re-verifications included).
pub async fn mailbox_records(db: &Db, workspace_id: Option<&str>, approved_only: bool) -> Result<Vec<MailboxRecord>, AppError> {
    let mut sql =
        "SELECT id, workspace_id, status, applicant, mailbox, decision_at FROM verifications WHERE flow = 'usps1583' AND mailbox IS NOT NULL".to_string();
    if approved_only {
        sql.push_str(" AND status = 'approved'");
    }
    if workspace_id.is_some() {
        sql.push_str(" AND workspace_id = $1");
    }
    sql.push_str(" ORDER BY id");
    let mut query = sqlx::query(&sql);
    if let Some(ws) = workspace_id {
        query = query.bind(ws);
    }
    let rows = query.fetch_all(db.pool()).await?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let status: String = row.try_get("status")?;
        let applicant: String = row.try_get("applicant")?;
        let applicant: crate::verifications::Applicant =
            serde_json::from_str(&crate::documents::pii::open(&applicant)?).map_err(|e| AppError::internal("stored applicant", e))?;
        let mailbox: String = row.try_get("mailbox")?;
        let Ok(mailbox) = serde_json::from_str::<Mailbox>(&mailbox) else { continue };
        records.push(MailboxRecord {
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            status: status.parse().map_err(|_| AppError::internal("stored status", &status))?,
            name: format!("{} {}", applicant.first_name, applicant.last_name),
            mailbox,
            id_expires_on: None,
            decided_at: row.try_get("decision_at")?,
        });
    }
    let approved: Vec<&MailboxRecord> = records.iter().filter(|r| r.status == VerificationStatus::Approved).collect();
    let expiries = photo_expiries(db, &approved.iter().map(|r| r.id.clone()).collect::<Vec<_>>()).await?;
    for record in records.iter_mut().filter(|r| r.status == VerificationStatus::Approved) {
        record.id_expires_on = expiries.get(&record.id).cloned();
    }
    Ok(records)
}

/// Box 8d of each record in `ids`: the expiry its photo ID's document shows (or that of
/// its latest approved re-verification).
async fn photo_expiries(db: &Db, ids: &[String]) -> Result<HashMap<String, String>, AppError> {
    let mut source: HashMap<String, String> = ids.iter().map(|id| (id.clone(), id.clone())).collect();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT original_id, follow_up_id FROM reverifications WHERE applied_at IS NOT NULL AND original_id IN ({}) ORDER BY applied_at",
            marks.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id);
        }
        for row in query.fetch_all(db.pool()).await? {
            source.insert(row.try_get("original_id")?, row.try_get("follow_up_id")?);
        }
    }
    let sources: Vec<String> = source.values().cloned().collect();
    let mut docs = HashMap::new();
    for chunk in sources.chunks(500) {
        docs.extend(documents::list_for_many(db.pool(), chunk).await?);
    }
    let mut expiries = HashMap::new();
    for (original, from) in source {
        let expiry = docs.get(&from).and_then(|list| {
            list.iter()
                .rev()
                .find(|d| d.role == DocumentRole::PhotoId && d.status != DocumentStatus::Canceled)
                .and_then(|d| d.extracted.as_ref())
                .and_then(expiry_of)
        });
        if let Some(expiry) = expiry {
            expiries.insert(original, expiry);
        }
    }
    Ok(expiries)
}

fn expiry_of(e: &Extracted) -> Option<String> {
    e.expiry_date.clone().filter(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
}
