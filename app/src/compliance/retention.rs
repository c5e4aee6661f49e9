//! Retention and redaction (SPEC §10, issue 17): a workspace keeps documents and the
//! personal data read from them for `retention_days` after the box closes (box 1b), or
//! after a rejection or a cancellation; then a daily job redacts the verification,
//! irreversibly, unless it is under legal hold. `…/redact` does the same on demand.
//!
//! Redaction deletes every document file (and a capture link's pending upload) from the
//! blob store, replaces the applicant's data, clears what the pipeline read and the
//! search keys, empties the history details, scrubs the webhook payloads (events,
//! deliveries, attempts) of the verification and its documents and deletes the stored
//! idempotent responses that carry its id. The verification keeps its id, status,
//! dates, reference, PMB and decision, and gets `redacted_at`; `verification.redacted`
//! is sent.

use super::RetentionPolicy;
use crate::{
    access::Actor,
    dates::rfc3339,
    documents::{blobs::DocumentFiles, crypto},
    error::AppError,
    flows::Flow,
    jobs::Job,
    journal::{self, Change, Tx},
    store::{now_ms, Db},
    verifications::{service as verifications, Applicant, Mailbox, PhotoIdSpec, RuleResult, Verification, VerificationStatus},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use sqlx::Row;

/// The job kind (and the daily schedule's name).
pub const JOB: &str = "compliance.retention";
/// Days kept when the workspace has not chosen: one year. The legal period is the
/// operator's decision.
pub const DEFAULT_RETENTION_DAYS: i64 = 365;
/// The longest period accepted (100 years).
pub const MAX_RETENTION_DAYS: i64 = 36_500;
/// What replaces each personal field.
pub const REDACTED: &str = "[redacted]";

pub const UNDER_LEGAL_HOLD: &str = "The verification is under legal hold: it cannot be redacted until the hold is released.";
pub const ALREADY_REDACTED: &str = "The verification has already been redacted.";
pub const NOT_FINISHED: &str = "Only an approved, rejected or canceled verification can be redacted; cancel it first.";

/// The workspace's retention policy (the default until one is saved).
pub async fn policy(db: &Db, workspace_id: &str) -> Result<RetentionPolicy, AppError> {
    let days: Option<i64> =
        sqlx::query_scalar("SELECT retention_days FROM retention_policies WHERE workspace_id = $1").bind(workspace_id).fetch_optional(db.pool()).await?;
    Ok(RetentionPolicy { retention_days: days.unwrap_or(DEFAULT_RETENTION_DAYS), default: days.is_none() })
}

/// The 422 of a period that is not a whole number of days within 1..=36500.
pub fn parse_days(value: Option<&Value>) -> Result<i64, AppError> {
    let days = match value {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    days.filter(|d| (1..=MAX_RETENTION_DAYS).contains(d))
        .ok_or_else(|| AppError::invalid("retention_days", "The retention period must be a whole number of days from 1 to 36500."))
}

/// Saves `{retention_days}`.
pub async fn save_policy(db: &Db, workspace_id: &str, body: &Value, actor: &Actor) -> Result<RetentionPolicy, AppError> {
    let days = parse_days(body.get("retention_days"))?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO retention_policies (workspace_id, retention_days, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id) DO UPDATE SET retention_days = excluded.retention_days, updated_at = excluded.updated_at",
    )
    .bind(workspace_id)
    .bind(days)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    journal::note(&mut tx, workspace_id, actor, "settings.retention_updated", workspace_id, Some(json!({ "retention_days": days }))).await?;
    tx.commit().await?;
    Ok(RetentionPolicy { retention_days: days, default: false })
}

/// The flow of verification `id` of the workspace (404 when missing or another's).
pub async fn flow_of(db: &Db, workspace_id: &str, id: &str) -> Result<Flow, AppError> {
    let flow: String = sqlx::query_scalar("SELECT flow FROM verifications WHERE id = $1 AND workspace_id = $2")
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    flow.parse().map_err(|_| AppError::internal("stored flow", &flow))
}

/// The reason a body gives (`reason`), trimmed; required when `required`.
pub fn reason(body: &Value, required: bool) -> Result<Option<String>, AppError> {
    let text = body.get("reason").and_then(|r| r.as_str()).map(str::trim).filter(|r| !r.is_empty());
    match text {
        Some(r) if r.chars().count() > 500 => Err(AppError::invalid("reason", "The reason may not be longer than 500 characters.")),
        None if required => Err(AppError::invalid("reason", "The reason is required.")),
        other => Ok(other.map(str::to_string)),
    }
}

/// Places (`hold: true`) or releases a legal hold: `{hold, reason}`; a history entry and
/// an activity entry, no webhook event.
pub async fn set_legal_hold(db: &Db, workspace_id: &str, flow: Flow, id: &str, body: &Value, actor: &Actor) -> Result<Verification, AppError> {
    let Some(hold) = body.get("hold").and_then(|h| h.as_bool()) else {
        return Err(AppError::invalid("hold", "The hold must be true or false."));
    };
    let reason = reason(body, false)?;
    let mut tx = db.begin_write().await?;
    let current = verifications::find(&mut *tx, workspace_id, flow, id).await?;
    if current.verification.redacted_at.is_some() {
        return Err(AppError::Conflict(ALREADY_REDACTED.into()));
    }
    if current.verification.legal_hold == hold {
        return verifications::get(db, workspace_id, flow, id).await;
    }
    sqlx::query("UPDATE verifications SET legal_hold = $1, legal_hold_reason = $2, version = version + 1, updated_at = $3 WHERE id = $4")
        .bind(i64::from(hold))
        .bind(reason.clone())
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let event = if hold { "verification.legal_hold_placed" } else { "verification.legal_hold_released" };
    let change = Change { workspace_id, verification_id: id, document_id: None, event, actor, data: json!({ "reason": reason }) };
    journal::record(&mut tx, &change).await?;
    tx.commit().await?;
    verifications::get(db, workspace_id, flow, id).await
}

/// Redacts verification `id` on request (`{reason}` required): 409 under legal hold,
/// once redacted, or while it is still in progress.
pub async fn redact(db: &Db, files: &DocumentFiles, workspace_id: &str, flow: Flow, id: &str, body: &Value, actor: &Actor) -> Result<Verification, AppError> {
    let reason = reason(body, true)?.unwrap_or_default();
    let current = verifications::find(db.pool(), workspace_id, flow, id).await?;
    if current.verification.redacted_at.is_some() {
        return Err(AppError::Conflict(ALREADY_REDACTED.into()));
    }
    if current.verification.legal_hold {
        return Err(AppError::Conflict(UNDER_LEGAL_HOLD.into()));
    }
    if !matches!(current.status, VerificationStatus::Approved | VerificationStatus::Rejected | VerificationStatus::Canceled) {
        return Err(AppError::Conflict(NOT_FINISHED.into()));
    }
    let data = json!({ "trigger": "request", "reason": reason });
    match redact_one(db, files, workspace_id, flow, id, data, actor, Utc::now()).await? {
        Some(v) => Ok(v),
        // Another request or the daily job got there first, or a hold was just placed.
        None => {
            let v = verifications::get(db, workspace_id, flow, id).await?;
            Err(AppError::Conflict(if v.legal_hold { UNDER_LEGAL_HOLD } else { ALREADY_REDACTED }.into()))
        }
    }
}

/// The redaction itself, in one transaction that first claims the row (not redacted,
/// not held), so two workers never both do it; `None` when the claim failed. Files are
/// deleted before the commit: if the commit fails they are gone anyway and the next
/// run finishes the rest.
#[allow(clippy::too_many_arguments)]
async fn redact_one(
    db: &Db,
    files: &DocumentFiles,
    workspace_id: &str,
    flow: Flow,
    id: &str,
    data: Value,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Option<Verification>, AppError> {
    let mut tx = db.begin_write().await?;
    let claimed = sqlx::query("UPDATE verifications SET redacted_at = $1 WHERE id = $2 AND workspace_id = $3 AND redacted_at IS NULL AND legal_hold = 0")
        .bind(now.timestamp_millis())
        .bind(id)
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if claimed != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    let current = verifications::find(&mut *tx, workspace_id, flow, id).await?.verification;
    let mut blobs = Vec::new();
    let mut document_ids = Vec::new();
    for row in sqlx::query("SELECT id, front_blob, back_blob FROM documents WHERE verification_id = $1").bind(id).fetch_all(&mut *tx).await? {
        document_ids.push(row.try_get::<String, _>("id")?);
        blobs.push(row.try_get::<String, _>("front_blob")?);
        blobs.extend(row.try_get::<Option<String>, _>("back_blob")?);
    }
    for row in
        sqlx::query("SELECT pending_blob FROM capture_links WHERE verification_id = $1 AND pending_blob IS NOT NULL").bind(id).fetch_all(&mut *tx).await?
    {
        blobs.push(row.try_get::<String, _>("pending_blob")?);
    }
    scrub_verification(&mut tx, &current).await?;
    sqlx::query("UPDATE documents SET extracted = NULL, front_blob = '', back_blob = NULL WHERE verification_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("UPDATE capture_links SET pending_blob = NULL, pending_type = NULL, redirect_url = NULL, revoked_at = COALESCE(revoked_at, $1) WHERE verification_id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE history SET data = '{}' WHERE verification_id = $1").bind(id).execute(&mut *tx).await?;
    let mut objects = document_ids.clone();
    objects.push(id.to_string());
    scrub_events(&mut tx, workspace_id, &objects).await?;
    scrub_idempotency(&mut tx, files, workspace_id, &objects).await?;
    for blob in blobs.iter().filter(|b| !b.is_empty()) {
        files.store.delete(blob).await.map_err(|e| AppError::internal("deleting a document file", e))?;
    }
    let change = Change { workspace_id, verification_id: id, document_id: None, event: "verification.redacted", actor, data };
    let verification = verifications::touch_and_record(&mut tx, workspace_id, flow, id, change).await?;
    tx.commit().await?;
    db.wake_workers();
    metrics::counter!("attest_verifications_redacted_total", "flow" => flow.code()).increment(1);
    Ok(Some(verification))
}

/// The applicant, what was declared about the documents, the metadata and the rule
/// details replaced; the PMB, dates and service type of a mailbox stay.
async fn scrub_verification(tx: &mut Tx, v: &Verification) -> Result<(), AppError> {
    let redacted = || REDACTED.to_string();
    let address = |country: &str| crate::verifications::Address {
        line1: redacted(),
        line2: None,
        city: redacted(),
        state: redacted(),
        postal_code: redacted(),
        country: country.to_string(),
    };
    let applicant = Applicant {
        first_name: redacted(),
        middle_name: None,
        last_name: redacted(),
        date_of_birth: redacted(),
        email: None,
        phone: None,
        address: address(&v.applicant.address.country),
    };
    let photo_id = v.photo_id.as_ref().map(|p| PhotoIdSpec { number: None, ..p.clone() });
    let mailbox = v.mailbox.as_ref().map(|m| Mailbox { business: None, protected_individual: None, ..m.clone() });
    let rules: Vec<RuleResult> = v.rules.iter().map(|r| RuleResult { expected: None, found: None, ..r.clone() }).collect();
    sqlx::query(
        "UPDATE verifications SET applicant = $1, photo_id = $2, mailbox = $3, rules = $4, metadata = '{}', \
         search_name = NULL, search_name_rev = NULL, search_email = NULL, requested_documents = NULL WHERE id = $5",
    )
    .bind(json_text(&applicant)?)
    .bind(photo_id.as_ref().map(json_text).transpose()?)
    .bind(mailbox.as_ref().map(json_text).transpose()?)
    .bind(json_text(&rules)?)
    .bind(&v.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A value as stored JSON text.
fn json_text<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|e| AppError::internal("redacted JSON", e))
}

/// Every outbox event about `objects` (the verification and its documents) keeps only
/// its id, type and time; so do its deliveries, and its attempts lose their bodies.
async fn scrub_events(tx: &mut Tx, workspace_id: &str, objects: &[String]) -> Result<(), AppError> {
    for object in objects {
        let rows = sqlx::query("SELECT id, type, created_at FROM events WHERE workspace_id = $1 AND object_id = $2")
            .bind(workspace_id)
            .bind(object)
            .fetch_all(&mut **tx)
            .await?;
        for row in rows {
            let event_id: String = row.try_get("id")?;
            let event_type: String = row.try_get("type")?;
            let payload = json!({
                "id": event_id,
                "type": event_type,
                "created_at": rfc3339(row.try_get("created_at")?),
                "data": { "object": { "id": object, "redacted": true } },
            })
            .to_string();
            sqlx::query("UPDATE events SET payload = $1 WHERE id = $2").bind(&payload).bind(&event_id).execute(&mut **tx).await?;
            sqlx::query("UPDATE webhook_deliveries SET payload = $1 WHERE event_id = $2").bind(&payload).bind(&event_id).execute(&mut **tx).await?;
            sqlx::query(
                "UPDATE webhook_attempts SET request_body = $1, response_body = NULL WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE event_id = $2)",
            )
            .bind(REDACTED)
            .bind(&event_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Deletes the workspace's stored idempotent responses that name one of `objects`
/// (opened with the idempotency sealing key): a retry then runs afresh.
async fn scrub_idempotency(tx: &mut Tx, files: &DocumentFiles, workspace_id: &str, objects: &[String]) -> Result<(), AppError> {
    let key = crypto::idempotency_key(&files.master);
    let rows = sqlx::query("SELECT key, response_sealed FROM idempotency_keys WHERE workspace_id = $1 AND response_sealed IS NOT NULL")
        .bind(workspace_id)
        .fetch_all(&mut **tx)
        .await?;
    for row in rows {
        let sealed: String = row.try_get("response_sealed")?;
        let Ok(bytes) = hex::decode(&sealed) else { continue };
        // One that no longer opens (a rotated master key) cannot be replayed either.
        let Ok(body) = crypto::open(&key, &bytes) else { continue };
        let text = String::from_utf8_lossy(&body);
        if objects.iter().any(|o| text.contains(o.as_str())) {
            let idempotency_key: String = row.try_get("key")?;
            sqlx::query("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2")
                .bind(workspace_id)
                .bind(idempotency_key)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// A verification the daily job may redact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub workspace_id: String,
    pub flow: Flow,
}

/// The day retention starts for a verification: the box's closing day for an approved
/// record, the decision for a rejection, the cancellation for a canceled one.
fn retention_start(status: &str, mailbox: Option<&str>, decided_at: Option<i64>, canceled_at: Option<i64>) -> Option<NaiveDate> {
    let day = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.date_naive());
    match status {
        "approved" => {
            let mailbox: Mailbox = serde_json::from_str(mailbox?).ok()?;
            NaiveDate::parse_from_str(mailbox.closed_on.as_deref()?, "%Y-%m-%d").ok()
        }
        "rejected" => day(decided_at?),
        "canceled" => day(canceled_at?),
        _ => None,
    }
}

/// The verifications past their workspace's retention at `now`, not redacted and not held.
pub async fn due(db: &Db, now: DateTime<Utc>) -> Result<Vec<Candidate>, AppError> {
    let rows = sqlx::query(
        "SELECT v.id, v.workspace_id, v.flow, v.status, v.mailbox, v.decision_at, v.updated_at, p.retention_days, \
         (SELECT MAX(h.created_at) FROM history h WHERE h.verification_id = v.id AND h.event = 'verification.canceled') AS canceled_at \
         FROM verifications v LEFT JOIN retention_policies p ON p.workspace_id = v.workspace_id \
         WHERE v.redacted_at IS NULL AND v.legal_hold = 0 AND v.status IN ('approved', 'rejected', 'canceled') ORDER BY v.id",
    )
    .fetch_all(db.pool())
    .await?;
    let today = now.date_naive();
    let mut due = Vec::new();
    for row in rows {
        let status: String = row.try_get("status")?;
        let mailbox: Option<String> = row.try_get("mailbox")?;
        let canceled_at: Option<i64> = row.try_get::<Option<i64>, _>("canceled_at")?.or(row.try_get::<Option<i64>, _>("updated_at")?);
        let Some(start) = retention_start(&status, mailbox.as_deref(), row.try_get("decision_at")?, canceled_at) else { continue };
        let days: i64 = row.try_get::<Option<i64>, _>("retention_days")?.unwrap_or(DEFAULT_RETENTION_DAYS);
        if (today - start).num_days() < days {
            continue;
        }
        let flow: String = row.try_get("flow")?;
        due.push(Candidate {
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            flow: flow.parse().map_err(|_| AppError::internal("stored flow", &flow))?,
        });
    }
    Ok(due)
}

/// Redacts everything due at `now` (the job passes the clock; tests pass their own);
/// how many this run redacted (one another worker took is not counted).
pub async fn redact_due(db: &Db, files: &DocumentFiles, now: DateTime<Utc>) -> Result<usize, AppError> {
    let mut redacted = 0;
    for c in due(db, now).await? {
        let days = policy(db, &c.workspace_id).await?.retention_days;
        let data = json!({ "trigger": "retention", "retention_days": days });
        if redact_one(db, files, &c.workspace_id, c.flow, &c.id, data, &Actor::System, now).await?.is_some() {
            redacted += 1;
        }
    }
    Ok(redacted)
}

/// Runs a leased retention job and removes it.
pub async fn run(state: &crate::state::AppState, job: &Job, worker: &str) -> Result<usize, AppError> {
    let redacted = redact_due(&state.db, &state.files, Utc::now()).await?;
    crate::jobs::complete(state.db.pool(), &job.id, worker).await?;
    tracing::info!(redacted, "retention run done");
    Ok(redacted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    #[test]
    fn retention_starts_when_the_box_closes_or_the_verification_ends() {
        let closed = r#"{"pmb":"12","closed_on":"2026-03-01"}"#;
        assert_eq!(retention_start("approved", Some(closed), None, None), NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(retention_start("approved", Some(r#"{"pmb":"12"}"#), Some(1), None), None, "an open box is kept");
        assert_eq!(retention_start("approved", None, Some(1), None), None);
        assert_eq!(retention_start("rejected", None, Some(DAY_MS), None), NaiveDate::from_ymd_opt(1970, 1, 2));
        assert_eq!(retention_start("canceled", None, None, Some(0)), NaiveDate::from_ymd_opt(1970, 1, 1));
        assert_eq!(retention_start("submitted", Some(closed), None, None), None);
    }

    #[test]
    fn the_period_is_whole_days_within_bounds() {
        assert_eq!(parse_days(Some(&json!(30))).unwrap(), 30);
        assert_eq!(parse_days(Some(&json!("90"))).unwrap(), 90);
        for bad in [json!(0), json!(-1), json!(36_501), json!(1.5), json!("x"), json!(null)] {
            assert!(parse_days(Some(&bad)).is_err(), "{bad}");
        }
        assert!(parse_days(None).is_err());
    }
}
