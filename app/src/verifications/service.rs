//! The verification lifecycle (SPEC §4): create, read, list, update while `started`,
//! submit into the pipeline, cancel, and the final decision on `needs_review`.
//! Each change is one transaction with its history, activity, outbox event and job.

use super::{validate, Decision, DecisionOutcome, HistoryEntry, Page, RuleResult, SelfieMatch, Verification, VerificationStatus};
use crate::{
    access::Actor,
    dates::rfc3339,
    documents::{pii, service as documents, DocumentStatus},
    error::AppError,
    flows::{self, DocumentRole, Flow},
    journal::{self, Change, Tx},
    state::Environment,
    store::{
        batch::{Batch, Statement},
        filter::Filtered,
        ids::new_id,
        now_ms, Db,
    },
};
use serde_json::{json, Value};
use sqlx::{any::AnyRow, Row};

pub const CANCELED: &str = "The verification is canceled.";
pub const ALREADY_STARTED: &str = "The verification has already started.";
pub const INVALID_FLOW: &str = "Invalid verification flow.";
pub const NOT_AWAITING_REVIEW: &str = "The verification is not awaiting review.";

const COLUMNS: &str = "id, workspace_id, flow, status, reference, applicant, photo_id, proof_of_address, mailbox, metadata, rules, \
    selfie_score, selfie_threshold, decision_outcome, decision_reason, decision_by, decision_at, version, created_at, updated_at, legal_hold, redacted_at, requested_documents";

/// A verification row as stored (documents are loaded separately).
#[derive(Debug, Clone)]
pub struct Row_ {
    pub id: String,
    pub workspace_id: String,
    pub flow: Flow,
    pub status: VerificationStatus,
    pub version: i64,
    pub verification: Verification,
}

/// A JSON column, opened first when it is one of the sealed personal-data columns.
fn json_column(row: &AnyRow, name: &str) -> Result<Option<Value>, AppError> {
    let text: Option<String> = row.try_get(name)?;
    text.map(|t| serde_json::from_str(&pii::open(&t)?).map_err(|e| AppError::internal("stored JSON", e))).transpose()
}

fn typed<T: serde::de::DeserializeOwned>(value: Option<Value>) -> Result<Option<T>, AppError> {
    value.map(|v| serde_json::from_value(v).map_err(|e| AppError::internal("stored JSON shape", e))).transpose()
}

fn decode(row: &AnyRow) -> Result<Row_, AppError> {
    let flow: String = row.try_get("flow")?;
    let flow: Flow = flow.parse().map_err(|_| AppError::internal("stored flow", &flow))?;
    let status: String = row.try_get("status")?;
    let status: VerificationStatus = status.parse().map_err(|_| AppError::internal("stored status", &status))?;
    let decision = decision_from_row(row)?;
    let score: Option<f64> = row.try_get("selfie_score")?;
    let threshold: Option<f64> = row.try_get("selfie_threshold")?;
    let id: String = row.try_get("id")?;
    let version: i64 = row.try_get("version")?;
    let verification = Verification {
        id: id.clone(),
        flow,
        status,
        reference: row.try_get("reference")?,
        applicant: typed(json_column(row, "applicant")?)?.ok_or_else(|| AppError::internal("stored applicant", "missing"))?,
        photo_id: typed(json_column(row, "photo_id")?)?,
        proof_of_address: typed(json_column(row, "proof_of_address")?)?,
        mailbox: typed(json_column(row, "mailbox")?)?,
        metadata: json_column(row, "metadata")?.unwrap_or_else(|| json!({})),
        version,
        documents: Vec::new(),
        rules: typed::<Vec<RuleResult>>(json_column(row, "rules")?)?.unwrap_or_default(),
        selfie_match: score.zip(threshold).map(|(score, threshold)| SelfieMatch { score, threshold }),
        decision,
        requested_documents: typed(json_column(row, "requested_documents")?)?.unwrap_or_default(),
        created_at: rfc3339(row.try_get("created_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
        legal_hold: row.try_get::<i64, _>("legal_hold")? != 0,
        redacted_at: row.try_get::<Option<i64>, _>("redacted_at")?.map(rfc3339),
    };
    Ok(Row_ { id, workspace_id: row.try_get("workspace_id")?, flow, status, version, verification })
}

/// The `decision_*` columns that verifications and documents share.
pub fn decision_from_row(row: &AnyRow) -> Result<Option<Decision>, AppError> {
    decision_from_columns(row, "")
}

/// [`decision_from_row`] for columns that carry `prefix` (documents in a join).
pub fn decision_from_columns(row: &AnyRow, prefix: &str) -> Result<Option<Decision>, AppError> {
    let col = |name: &str| format!("{prefix}{name}");
    let outcome: Option<String> = row.try_get(col("decision_outcome").as_str())?;
    let Some(outcome) = outcome else { return Ok(None) };
    Ok(Some(Decision {
        outcome: if outcome == "approved" { DecisionOutcome::Approved } else { DecisionOutcome::Rejected },
        reason: row.try_get(col("decision_reason").as_str())?,
        by: row.try_get::<Option<String>, _>(col("decision_by").as_str())?.unwrap_or_else(|| "system".into()),
        at: rfc3339(row.try_get::<Option<i64>, _>(col("decision_at").as_str())?.unwrap_or_default()),
    }))
}

/// The verification `id` of the workspace: 404 when missing or another workspace's,
/// 400 when it belongs to another flow than the path's.
pub async fn find<'e, E>(executor: E, workspace_id: &str, flow: Flow, id: &str) -> Result<Row_, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM verifications WHERE id = $1 AND workspace_id = $2"))
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(executor)
        .await?
        .ok_or(AppError::NotFound)?;
    let found = decode(&row)?;
    if found.flow != flow {
        return Err(AppError::BadRequest(INVALID_FLOW.into()));
    }
    Ok(found)
}

/// Refuses an upload unless the verification is `started`, or awaits the new document
/// of `role` (`resubmission_requested`, `role` among those requested).
pub fn ensure_accepts_upload(current: &Verification, role: Option<DocumentRole>) -> Result<(), AppError> {
    if current.status != VerificationStatus::ResubmissionRequested {
        return ensure_started(current.status);
    }
    match role {
        Some(role) if !current.requested_documents.iter().any(|r| r.role == role) => {
            Err(AppError::Conflict(format!("No new {} document was requested; only {} may be uploaded.", role.code(), requested_roles(current))))
        }
        _ => Ok(()),
    }
}

fn requested_roles(v: &Verification) -> String {
    v.requested_documents.iter().map(|r| r.role.code()).collect::<Vec<_>>().join(", ")
}

/// Takes the verification row's lock for the rest of `tx` (PostgreSQL; SQLite's write
/// transaction already holds the database), so concurrent changes to one verification
/// run one after the other and each sees the other's result.
pub async fn lock(tx: &mut Tx, id: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE verifications SET version = version WHERE id = $1").bind(id).execute(&mut **tx).await?;
    Ok(())
}

/// Refuses changes unless the verification is still `started`.
pub fn ensure_started(status: VerificationStatus) -> Result<(), AppError> {
    match status {
        VerificationStatus::Started => Ok(()),
        VerificationStatus::Canceled => Err(AppError::BadRequest(CANCELED.into())),
        _ => Err(AppError::BadRequest(ALREADY_STARTED.into())),
    }
}

/// The verification with its documents, in one round trip (a LEFT JOIN: the API's
/// most frequent read).
pub async fn get(db: &Db, workspace_id: &str, flow: Flow, id: &str) -> Result<Verification, AppError> {
    load(db.pool(), workspace_id, flow, id).await
}

async fn load<'e, E>(executor: E, workspace_id: &str, flow: Flow, id: &str) -> Result<Verification, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let verification: Vec<String> = COLUMNS.split(", ").map(|c| format!("v.{c} AS {c}")).collect();
        format!(
            "SELECT {}, {} FROM verifications v LEFT JOIN documents d ON d.verification_id = v.id \
             WHERE v.id = $1 AND v.workspace_id = $2 ORDER BY d.id",
            verification.join(", "),
            documents::joined_columns("d")
        )
    });
    let rows = sqlx::query(&SQL).bind(id).bind(workspace_id).fetch_all(executor).await?;
    let first = rows.first().ok_or(AppError::NotFound)?;
    let found = decode(first)?;
    if found.flow != flow {
        return Err(AppError::BadRequest(INVALID_FLOW.into()));
    }
    let mut verification = found.verification;
    for row in &rows {
        if row.try_get::<Option<String>, _>("d_id")?.is_some() {
            verification.documents.push(documents::decode_prefixed(row, "d_")?);
        }
    }
    Ok(verification)
}

async fn reload(tx: &mut Tx, workspace_id: &str, flow: Flow, id: &str) -> Result<Verification, AppError> {
    load(&mut **tx, workspace_id, flow, id).await
}

/// Bumps the version and records the change with its outbox event, inside `tx`.
pub async fn touch_and_record(tx: &mut Tx, workspace_id: &str, flow: Flow, id: &str, change: Change<'_>) -> Result<Verification, AppError> {
    touch_and_record_with(tx, workspace_id, flow, id, change, serde_json::Map::new()).await
}

/// [`touch_and_record`] whose event carries `extra` fields in its `data` beside the
/// object (e.g. `days_left` of `verification.id_expiring`).
pub async fn touch_and_record_with(
    tx: &mut Tx,
    workspace_id: &str,
    flow: Flow,
    id: &str,
    change: Change<'_>,
    extra: serde_json::Map<String, Value>,
) -> Result<Verification, AppError> {
    sqlx::query("UPDATE verifications SET version = version + 1, updated_at = $1 WHERE id = $2").bind(now_ms()).bind(id).execute(&mut **tx).await?;
    journal::record(tx, &change).await?;
    let verification = reload(tx, workspace_id, flow, id).await?;
    if change.document_id.is_none() {
        let object = serde_json::to_value(&verification).map_err(|e| AppError::internal("event payload", e))?;
        let mut data = extra;
        data.insert("object".into(), object);
        journal::emit_data(tx, workspace_id, change.event, id, verification.version, Value::Object(data)).await?;
    }
    Ok(verification)
}

pub async fn create(db: &Db, environment: Environment, workspace_id: &str, flow: Flow, body: &Value, actor: &Actor) -> Result<Verification, AppError> {
    let (verification, batch) = create_batch(db, environment, workspace_id, flow, body, actor).await?;
    batch.commit(db).await?;
    db.wake_workers();
    metrics::counter!("attest_verifications_created_total", "flow" => flow.code()).increment(1);
    Ok(verification)
}

/// [`create`] up to its commit: the new verification and the batch that writes it, for
/// a caller that writes more in the same transaction (a re-verification's link).
pub async fn create_batch(
    db: &Db,
    environment: Environment,
    workspace_id: &str,
    flow: Flow,
    body: &Value,
    actor: &Actor,
) -> Result<(Verification, Batch), AppError> {
    let config = flows::service::load(db, workspace_id, flow).await?;
    let input = validate::create(body, flow, &config)?;
    refuse_test_data(environment, &input.applicant)?;
    let id = new_id("ver");
    let now = now_ms();
    let to_json = |v: &dyn erased::Json| v.json();
    let keys = super::search::keys(&input.applicant);
    // Read before the write: the change itself is one batch (one round trip on SQLite).
    let endpoints = crate::webhooks::service::cached_subscribers(db, workspace_id, "verification.created").await?;
    let mut batch = Batch::new();
    batch.push(
        Statement::new(
            "INSERT INTO verifications (id, workspace_id, flow, status, reference, applicant, photo_id, proof_of_address, mailbox, metadata, version, created_at, updated_at, \
             search_name, search_name_rev, search_email) VALUES ($1, $2, $3, 'started', $4, $5, $6, $7, $8, $9, 1, $10, $10, $11, $12, $13)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(flow.code())
        .bind(input.reference.clone())
        .bind(db.seal_pii(&to_json(&input.applicant))?)
        .bind(db.seal_pii(&to_json(&input.photo_id))?)
        .bind(input.proof_of_address.as_ref().map(|p| to_json(p)))
        .bind(input.mailbox.as_ref().map(|m| to_json(m)))
        .bind(input.metadata.to_string())
        .bind(now)
        .bind(keys.name)
        .bind(keys.name_rev)
        .bind(keys.email),
    );
    let change = Change { workspace_id, verification_id: &id, document_id: None, event: "verification.created", actor, data: json!({ "status": "started" }) };
    journal::record_into(&mut batch, &change);
    let verification = Verification {
        id: id.clone(),
        flow,
        status: VerificationStatus::Started,
        reference: input.reference,
        applicant: input.applicant,
        photo_id: Some(input.photo_id),
        proof_of_address: input.proof_of_address,
        mailbox: input.mailbox,
        metadata: input.metadata,
        version: 1,
        documents: Vec::new(),
        rules: Vec::new(),
        selfie_match: None,
        decision: None,
        requested_documents: Vec::new(),
        created_at: rfc3339(now),
        updated_at: rfc3339(now),
        legal_hold: false,
        redacted_at: None,
    };
    let object = serde_json::to_value(&verification).map_err(|e| AppError::internal("event payload", e))?;
    journal::emit_into(&mut batch, &endpoints, workspace_id, "verification.created", &id, verification.version, &object);
    Ok((verification, batch))
}

/// Sandbox test data (magic last names, SPEC §5.5) is refused in production.
fn refuse_test_data(environment: Environment, applicant: &super::Applicant) -> Result<(), AppError> {
    if environment.is_production() && crate::pipeline::sandbox::Scenario::is_test_data(&applicant.last_name) {
        return Err(AppError::invalid("applicant.last_name", crate::pipeline::sandbox::REFUSED_IN_PRODUCTION));
    }
    Ok(())
}

/// Serializes the wire types stored as JSON columns.
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "null".into())
        }
    }
}

pub async fn update(
    db: &Db,
    environment: Environment,
    workspace_id: &str,
    flow: Flow,
    id: &str,
    body: &Value,
    actor: &Actor,
) -> Result<Verification, AppError> {
    let mut tx = db.begin_write().await?;
    let current = find(&mut *tx, workspace_id, flow, id).await?;
    if current.status == VerificationStatus::Approved && flow == Flow::Usps1583 {
        return close_mailbox(db, tx, workspace_id, flow, &current, body, actor).await;
    }
    ensure_started(current.status)?;
    let input = validate::update(body, &current.verification.applicant, current.verification.mailbox.as_ref(), flow)?;
    if let Some(applicant) = &input.applicant {
        refuse_test_data(environment, applicant)?;
    }
    let mut changed = Vec::new();
    if let Some(applicant) = &input.applicant {
        let keys = super::search::keys(applicant);
        sqlx::query("UPDATE verifications SET applicant = $1, search_name = $2, search_name_rev = $3, search_email = $4 WHERE id = $5")
            .bind(db.seal_pii(&serde_json::to_string(applicant).map_err(|e| AppError::internal("applicant", e))?)?)
            .bind(keys.name)
            .bind(keys.name_rev)
            .bind(keys.email)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        changed.push("applicant");
    }
    if let Some(reference) = &input.reference {
        sqlx::query("UPDATE verifications SET reference = $1 WHERE id = $2").bind(reference.clone()).bind(id).execute(&mut *tx).await?;
        changed.push("reference");
    }
    if let Some(metadata) = &input.metadata {
        sqlx::query("UPDATE verifications SET metadata = $1 WHERE id = $2").bind(metadata.to_string()).bind(id).execute(&mut *tx).await?;
        changed.push("metadata");
    }
    if let Some(mailbox) = &input.mailbox {
        let text = serde_json::to_string(mailbox).map_err(|e| AppError::internal("mailbox", e))?;
        sqlx::query("UPDATE verifications SET mailbox = $1 WHERE id = $2").bind(text).bind(id).execute(&mut *tx).await?;
        changed.push("mailbox");
    }
    if changed.is_empty() {
        return get(db, workspace_id, flow, id).await;
    }
    let change = Change { workspace_id, verification_id: id, document_id: None, event: "verification.updated", actor, data: json!({ "fields": changed }) };
    let verification = touch_and_record(&mut tx, workspace_id, flow, id, change).await?;
    tx.commit().await?;
    db.wake_workers();
    Ok(verification)
}

/// The one change an approved PS Form 1583 record takes: the day its box closed (1b).
async fn close_mailbox(db: &Db, mut tx: Tx, workspace_id: &str, flow: Flow, current: &Row_, body: &Value, actor: &Actor) -> Result<Verification, AppError> {
    let mailbox = validate::closing(body, current.verification.mailbox.as_ref())?;
    let text = serde_json::to_string(&mailbox).map_err(|e| AppError::internal("mailbox", e))?;
    sqlx::query("UPDATE verifications SET mailbox = $1 WHERE id = $2").bind(text).bind(&current.id).execute(&mut *tx).await?;
    let change = Change {
        workspace_id,
        verification_id: &current.id,
        document_id: None,
        event: "verification.updated",
        actor,
        data: json!({ "fields": ["mailbox.closed_on"], "closed_on": mailbox.closed_on }),
    };
    let verification = touch_and_record(&mut tx, workspace_id, flow, &current.id, change).await?;
    tx.commit().await?;
    db.wake_workers();
    Ok(verification)
}

/// Moves the verification into the pipeline once every required document is there.
pub async fn submit(db: &Db, workspace_id: &str, flow: Flow, id: &str, actor: &Actor) -> Result<Verification, AppError> {
    let config = flows::service::load(db, workspace_id, flow).await?;
    let mut tx = db.begin_write().await?;
    let verification = submit_in(&mut tx, &config, workspace_id, id, actor).await?;
    tx.commit().await?;
    db.wake_workers();
    metrics::counter!("attest_verifications_submitted_total", "flow" => flow.code()).increment(1);
    Ok(verification)
}

/// [`submit`] inside the caller's transaction (a capture link submits and records its
/// own event in the same one).
pub async fn submit_in(tx: &mut Tx, config: &flows::FlowConfig, workspace_id: &str, id: &str, actor: &Actor) -> Result<Verification, AppError> {
    let flow = config.flow;
    lock(tx, id).await?;
    let current = find(&mut **tx, workspace_id, flow, id).await?;
    if current.status == VerificationStatus::ResubmissionRequested {
        return resubmit_in(tx, workspace_id, &current, actor).await;
    }
    ensure_started(current.status)?;
    let present = documents::list_for(&mut **tx, id).await?;
    let required = if crate::compliance::reverify::is_follow_up(tx, id).await? {
        crate::compliance::reverify::follow_up_roles(&config.required_roles)
    } else {
        config.required_roles.clone()
    };
    let missing: Vec<&str> =
        required.iter().filter(|role| !present.iter().any(|d| d.role == **role && d.status != DocumentStatus::Canceled)).map(|role| role.code()).collect();
    if !missing.is_empty() {
        return Err(AppError::BadRequest(format!("The verification is missing required documents: {}.", missing.join(", "))));
    }
    let protected = current.verification.mailbox.as_ref().and_then(|m| m.protected_individual).unwrap_or(false);
    if protected && !present.iter().any(|d| d.role == flows::DocumentRole::CourtOrder && d.status != DocumentStatus::Canceled) {
        return Err(AppError::BadRequest(COURT_ORDER_MISSING.to_string()));
    }
    enter_submitted(tx, workspace_id, flow, id, current.status, actor).await
}

/// Why a protected individual's verification cannot be submitted yet (box 4k).
pub const COURT_ORDER_MISSING: &str =
    "Box 4k: the applicant is a court-ordered protected individual (mailbox.protected_individual); upload the court order (type court_order) before submitting.";

/// The end of a submit, first or after a retake: `submitted` (no document request left
/// outstanding), the pipeline's job, the history entry and the event.
async fn enter_submitted(tx: &mut Tx, workspace_id: &str, flow: Flow, id: &str, from: VerificationStatus, actor: &Actor) -> Result<Verification, AppError> {
    sqlx::query("UPDATE verifications SET status = 'submitted', requested_documents = NULL WHERE id = $1").bind(id).execute(&mut **tx).await?;
    journal::enqueue(tx, crate::pipeline::JOB, &json!({ "verification_id": id })).await?;
    let change = Change {
        workspace_id,
        verification_id: id,
        document_id: None,
        event: "verification.submitted",
        actor,
        data: json!({ "from": from.code(), "to": "submitted" }),
    };
    touch_and_record(tx, workspace_id, flow, id, change).await
}

/// Submit after a retake: every requested role must have its new document (an upload
/// not processed yet); the pipeline then reads the new documents and runs the rules
/// over the current ones again.
async fn resubmit_in(tx: &mut Tx, workspace_id: &str, current: &Row_, actor: &Actor) -> Result<Verification, AppError> {
    let (id, flow) = (current.id.as_str(), current.flow);
    let present = documents::list_for(&mut **tx, id).await?;
    let missing: Vec<&str> = current
        .verification
        .requested_documents
        .iter()
        .filter(|r| !present.iter().any(|d| d.role == r.role && d.status == DocumentStatus::Uploaded))
        .map(|r| r.role.code())
        .collect();
    if !missing.is_empty() {
        return Err(AppError::Conflict(format!("The requested documents have not been uploaded yet: {}.", missing.join(", "))));
    }
    enter_submitted(tx, workspace_id, flow, id, VerificationStatus::ResubmissionRequested, actor).await
}

/// Asks for a new document of one role from a verification in `needs_review` (SPEC §10,
/// retake): it goes to `resubmission_requested` with the request in
/// `requested_documents`, its history entry and the `verification.resubmission_requested`
/// event (`data.role`, `data.reason`). The applicant's next upload of that role replaces
/// the current document, and submit processes the verification again.
pub async fn request_document(
    db: &Db,
    workspace_id: &str,
    flow: Flow,
    id: &str,
    input: &super::requests::DocumentRequestInput,
    actor: &Actor,
) -> Result<Verification, AppError> {
    let config = flows::service::load(db, workspace_id, flow).await?;
    let mut tx = db.begin_write().await?;
    let current = find(&mut *tx, workspace_id, flow, id).await?;
    match current.status {
        VerificationStatus::NeedsReview => {}
        VerificationStatus::Canceled => return Err(AppError::Conflict(CANCELED.into())),
        _ => return Err(AppError::Conflict(NOT_AWAITING_REVIEW.into())),
    }
    let present = documents::list_for(&mut *tx, id).await?;
    let (role, reason) = parse_document_request(input, |role| {
        config.required_roles.contains(&role) || present.iter().any(|d| d.role == role && d.status != DocumentStatus::Canceled)
    })?;
    let request = super::DocumentRequest { role, reason: reason.clone(), by: actor_label(actor), at: rfc3339(now_ms()) };
    let requests = serde_json::to_string(&[&request]).map_err(|e| AppError::internal("requested documents", e))?;
    // Only from `needs_review`, in the statement itself: of concurrent requests (or a
    // decision racing this one) exactly one moves the verification.
    let moved = sqlx::query("UPDATE verifications SET status = 'resubmission_requested', requested_documents = $1 WHERE id = $2 AND status = 'needs_review'")
        .bind(requests)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if moved == 0 {
        return Err(AppError::Conflict(NOT_AWAITING_REVIEW.into()));
    }
    let mut extra = serde_json::Map::new();
    extra.insert("role".into(), json!(role.code()));
    extra.insert("reason".into(), json!(reason));
    let change = Change {
        workspace_id,
        verification_id: id,
        document_id: None,
        event: "verification.resubmission_requested",
        actor,
        data: json!({ "from": "needs_review", "to": "resubmission_requested", "role": role.code(), "reason": reason }),
    };
    let verification = touch_and_record_with(&mut tx, workspace_id, flow, id, change, extra).await?;
    tx.commit().await?;
    db.wake_workers();
    Ok(verification)
}

/// Longest reason of a document request.
pub const MAX_REQUEST_REASON: usize = 500;

/// Parses `{role, reason}` of a document request; `used` says whether the flow (or this
/// verification) uses a role.
fn parse_document_request(input: &super::requests::DocumentRequestInput, used: impl Fn(DocumentRole) -> bool) -> Result<(DocumentRole, String), AppError> {
    let mut errors = crate::error::FieldErrors::new();
    let role = match input.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => {
            errors.insert("role".into(), vec!["The role field is required.".into()]);
            None
        }
        Some(code) => match code.parse::<DocumentRole>() {
            Ok(role) if used(role) => Some(role),
            Ok(role) => {
                errors.insert("role".into(), vec![format!("This flow does not use a {} document.", role.code())]);
                None
            }
            Err(()) => {
                errors.insert("role".into(), vec!["The selected role is invalid.".into()]);
                None
            }
        },
    };
    let reason = match input.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => {
            errors.insert("reason".into(), vec!["The reason field is required.".into()]);
            None
        }
        Some(r) if r.chars().count() > MAX_REQUEST_REASON => {
            errors.insert("reason".into(), vec![format!("The reason may not be greater than {MAX_REQUEST_REASON} characters.")]);
            None
        }
        Some(r) => Some(r.to_string()),
    };
    match (role, reason) {
        (Some(role), Some(reason)) if errors.is_empty() => Ok((role, reason)),
        _ => Err(AppError::Validation(errors)),
    }
}

async fn set_status(tx: &mut Tx, id: &str, status: VerificationStatus) -> Result<(), AppError> {
    sqlx::query("UPDATE verifications SET status = $1 WHERE id = $2").bind(status.code()).bind(id).execute(&mut **tx).await?;
    Ok(())
}

pub async fn cancel(db: &Db, workspace_id: &str, flow: Flow, id: &str, actor: &Actor) -> Result<Verification, AppError> {
    let mut tx = db.begin_write().await?;
    let current = find(&mut *tx, workspace_id, flow, id).await?;
    match current.status {
        VerificationStatus::Started | VerificationStatus::Submitted | VerificationStatus::ResubmissionRequested => {}
        VerificationStatus::Canceled => return Err(AppError::BadRequest(CANCELED.into())),
        _ => return Err(AppError::BadRequest("The verification has already been decided.".into())),
    }
    set_status(&mut tx, id, VerificationStatus::Canceled).await?;
    let change = Change {
        workspace_id,
        verification_id: id,
        document_id: None,
        event: "verification.canceled",
        actor,
        data: json!({ "from": current.status.code(), "to": "canceled" }),
    };
    let verification = touch_and_record(&mut tx, workspace_id, flow, id, change).await?;
    tx.commit().await?;
    db.wake_workers();
    Ok(verification)
}

/// Parses `{decision, reason}` of a decision body.
pub fn parse_decision(input: &super::requests::DecisionInput) -> Result<(DecisionOutcome, String), AppError> {
    let mut errors = crate::error::FieldErrors::new();
    let outcome = match input.decision.as_deref() {
        Some("approved") => Some(DecisionOutcome::Approved),
        Some("rejected") => Some(DecisionOutcome::Rejected),
        Some(_) => {
            errors.insert("decision".into(), vec!["The selected decision is invalid.".into()]);
            None
        }
        None => {
            errors.insert("decision".into(), vec!["The decision field is required.".into()]);
            None
        }
    };
    let reason = match input.reason.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() && r.chars().count() <= 1000 => Some(r.to_string()),
        Some(r) if !r.is_empty() => {
            errors.insert("reason".into(), vec!["The reason may not be greater than 1000 characters.".into()]);
            None
        }
        _ => {
            errors.insert("reason".into(), vec!["The reason field is required.".into()]);
            None
        }
    };
    match (outcome, reason) {
        (Some(o), Some(r)) if errors.is_empty() => Ok((o, r)),
        _ => Err(AppError::Validation(errors)),
    }
}

/// `user:<id>`, `api_token:<id>`, `system`: who decided.
pub fn actor_label(actor: &Actor) -> String {
    match actor.kind_and_id() {
        (kind, Some(id)) => format!("{kind}:{id}"),
        (kind, None) => kind.to_string(),
    }
}

/// A reviewer's final decision on a verification in `needs_review`.
pub async fn decide(
    db: &Db,
    workspace_id: &str,
    flow: Flow,
    id: &str,
    input: &super::requests::DecisionInput,
    actor: &Actor,
) -> Result<Verification, AppError> {
    let mut tx = db.begin_write().await?;
    let current = find(&mut *tx, workspace_id, flow, id).await?;
    match current.status {
        VerificationStatus::NeedsReview => {}
        VerificationStatus::Canceled => return Err(AppError::BadRequest(CANCELED.into())),
        _ => return Err(AppError::BadRequest(NOT_AWAITING_REVIEW.into())),
    }
    let (outcome, reason) = parse_decision(input)?;
    let status = if outcome == DecisionOutcome::Approved { VerificationStatus::Approved } else { VerificationStatus::Rejected };
    // Still `needs_review` in the statement itself: a document request racing this
    // decision (PostgreSQL reads without the write lock) is not overwritten.
    let moved = sqlx::query(
        "UPDATE verifications SET status = $1, decision_outcome = $2, decision_reason = $3, decision_by = $4, decision_at = $5 WHERE id = $6 AND status = 'needs_review'",
    )
    .bind(status.code())
    .bind(outcome.code())
    .bind(&reason)
    .bind(actor_label(actor))
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(AppError::BadRequest(NOT_AWAITING_REVIEW.into()));
    }
    let event = if outcome == DecisionOutcome::Approved { "verification.approved" } else { "verification.rejected" };
    let change = Change {
        workspace_id,
        verification_id: id,
        document_id: None,
        event,
        actor,
        data: json!({ "from": "needs_review", "to": status.code(), "reason": reason }),
    };
    let verification = touch_and_record(&mut tx, workspace_id, flow, id, change).await?;
    if outcome == DecisionOutcome::Approved {
        crate::compliance::reverify::apply(&mut tx, workspace_id, id, actor).await?;
    }
    tx.commit().await?;
    db.wake_workers();
    record_decided(db, flow, id, outcome.code(), "reviewer").await;
    Ok(verification)
}

/// `attest_verifications_decided_total{flow, outcome, by}` and the submit → decision
/// latency (from the `verification.submitted` event). Metrics only: never fails.
pub async fn record_decided(db: &Db, flow: Flow, id: &str, outcome: &'static str, by: &'static str) {
    metrics::counter!("attest_verifications_decided_total", "flow" => flow.code(), "outcome" => outcome, "by" => by).increment(1);
    let submitted: Option<i64> = sqlx::query_scalar("SELECT MAX(created_at) FROM events WHERE object_id = $1 AND type = 'verification.submitted'")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .ok()
        .flatten();
    if let Some(at) = submitted {
        metrics::histogram!("attest_verification_decision_seconds", "flow" => flow.code(), "by" => by).record((now_ms() - at).max(0) as f64 / 1000.0);
    }
}

/// What a list of verifications is narrowed by: the REST list (`GET /{flow}/verifications`)
/// and the reviewer's queue both read through [`select`].
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The REST list is always within one flow; the queue may span both.
    pub flow: Option<Flow>,
    pub status: Option<VerificationStatus>,
    pub reference: Option<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// The queue's search box: a name, e-mail, reference or id (see `search`).
    pub search: Option<String>,
    pub decision: Option<DecisionOutcome>,
    /// A rule that failed (one of `RULES`).
    pub failed_rule: Option<String>,
    pub limit: i64,
    pub cursor: Option<String>,
}

/// Newest first, keyset-paginated on the time-ordered id, with each verification's documents.
pub async fn list(db: &Db, workspace_id: &str, flow: Flow, query: &ListQuery) -> Result<Page<Verification>, AppError> {
    let query = ListQuery { flow: Some(flow), ..query.clone() };
    let mut page = select(db, workspace_id, &query).await?;
    let ids: Vec<String> = page.data.iter().map(|v| v.id.clone()).collect();
    let mut docs = documents::list_for_many(db.pool(), &ids).await?;
    for verification in &mut page.data {
        verification.documents = docs.remove(&verification.id).unwrap_or_default();
    }
    Ok(page)
}

/// The reviewer's queue: like [`list`], without loading documents.
pub async fn queue(db: &Db, workspace_id: &str, query: &ListQuery) -> Result<Page<Verification>, AppError> {
    select(db, workspace_id, query).await
}

/// Only the filters in use go into the SQL, so the planner can walk the
/// `(workspace_id, status, id)` index newest-first and stop after one page.
async fn select(db: &Db, workspace_id: &str, query: &ListQuery) -> Result<Page<Verification>, AppError> {
    let mut sql = Filtered::new(&format!("SELECT {COLUMNS} FROM verifications WHERE workspace_id = ?1"), [workspace_id]);
    if let Some(flow) = query.flow {
        sql.and("flow = ?1", [flow.code()]);
    }
    if let Some(status) = query.status {
        sql.and("status = ?1", [status.code()]);
    }
    if let Some(reference) = &query.reference {
        sql.and("reference = ?1", [reference]);
    }
    if let Some(from) = query.created_from {
        sql.and("created_at >= ?1", [from]);
    }
    if let Some(to) = query.created_to {
        sql.and("created_at < ?1", [to]);
    }
    if let Some(cursor) = &query.cursor {
        sql.and("id < ?1", [cursor]);
    }
    if let Some(search) = query.search.as_deref().and_then(super::search::Search::parse) {
        match search.candidates(db, workspace_id).await? {
            super::search::Candidates::Ids(ids) => sql.and_in("id", &ids),
            super::search::Candidates::Many => {
                let (clause, values) = search.row_test();
                sql.and(&clause, values)
            }
        };
    }
    if let Some(decision) = query.decision {
        sql.and("decision_outcome = ?1", [decision.code()]);
    }
    if let Some(rule) = &query.failed_rule {
        // `rules` is sealed; `failed_rules` keeps the failed names: `,name_mismatch,…,`.
        sql.and("failed_rules LIKE ?1", [format!("%,{rule},%")]);
    }
    sql.tail(&format!("ORDER BY id DESC LIMIT {}", query.limit + 1));
    let rows = sql.query().fetch_all(db.pool()).await?;
    let data = rows.iter().take(query.limit as usize).map(|row| Ok(decode(row)?.verification)).collect::<Result<Vec<_>, AppError>>()?;
    let next_cursor = (rows.len() as i64 > query.limit).then(|| data.last().map(|v| v.id.clone())).flatten();
    Ok(Page { data, next_cursor })
}

/// The timeline of a verification, oldest first.
/// Counts shown on the queue's status tabs stop at this: beyond it the tab says
/// "10000+", and a page never scans more than this many index entries per status.
pub use super::page::COUNT_CAP;

/// `(status, count)` for each status, each count capped at [`COUNT_CAP`] + 1.
pub async fn status_counts(db: &Db, workspace_id: &str) -> Result<Vec<(String, i64)>, AppError> {
    // One statement: a capped count per status, each an index range of its own.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let cap = VerificationStatus::ALL.len() + 2;
        let arms: Vec<String> = (0..VerificationStatus::ALL.len())
            .map(|i| {
                format!(
                    "SELECT CAST({i} AS BIGINT) AS status, COUNT(*) AS n FROM (SELECT 1 FROM verifications WHERE workspace_id = $1 AND status = ${} LIMIT ${cap}) AS c{i}",
                    i + 2
                )
            })
            .collect();
        arms.join(" UNION ALL ")
    });
    let mut query = sqlx::query_as::<_, (i64, i64)>(&SQL).bind(workspace_id);
    for status in VerificationStatus::ALL {
        query = query.bind(status.code());
    }
    let rows = query.bind(COUNT_CAP + 1).fetch_all(db.pool()).await?;
    let mut counts: Vec<(String, i64)> =
        rows.into_iter().filter(|(_, n)| *n > 0).filter_map(|(i, n)| VerificationStatus::ALL.get(i as usize).map(|s| (s.code().to_string(), n))).collect();
    counts.sort();
    Ok(counts)
}

/// The webhook events about verification `id` and its documents, oldest first, with
/// how many endpoints each went to and how many received it.
pub async fn events_for(db: &Db, workspace_id: &str, id: &str) -> Result<Vec<super::page::EventSummary>, AppError> {
    let rows = sqlx::query(
        "SELECT e.id, e.type, e.created_at, COUNT(d.id) AS deliveries, \
         COALESCE(SUM(CASE WHEN d.status = 'succeeded' THEN 1 ELSE 0 END), 0) AS delivered \
         FROM events e LEFT JOIN webhook_deliveries d ON d.event_id = e.id \
         WHERE e.workspace_id = $1 AND (e.object_id = $2 OR e.object_id IN (SELECT id FROM documents WHERE verification_id = $2)) \
         GROUP BY e.id, e.type, e.created_at ORDER BY e.id",
    )
    .bind(workspace_id)
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(super::page::EventSummary {
                id: r.try_get("id")?,
                event_type: r.try_get("type")?,
                created_at: rfc3339(r.try_get("created_at")?),
                deliveries: r.try_get("deliveries")?,
                delivered: r.try_get("delivered")?,
            })
        })
        .collect()
}

/// The e-mail addresses of the users among `actors` (`user:<id>`, as a decision's `by`
/// reads), in one query: `user:<id>` → e-mail.
pub async fn user_emails(db: &Db, actors: &[&str]) -> Result<std::collections::HashMap<String, String>, AppError> {
    let ids: Vec<&str> = actors.iter().filter_map(|a| a.strip_prefix("user:")).collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!("SELECT id, email FROM users WHERE id IN ({})", placeholders.join(", "));
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(db.pool()).await?.iter().map(|r| Ok((format!("user:{}", r.try_get::<String, _>("id")?), r.try_get("email")?))).collect()
}

pub async fn history(db: &Db, workspace_id: &str, flow: Flow, id: &str) -> Result<Page<HistoryEntry>, AppError> {
    find(db.pool(), workspace_id, flow, id).await?;
    // Users resolved to their e-mail in the same query, not one lookup per entry.
    let rows = sqlx::query(
        "SELECT h.id, h.event, h.document_id, h.actor_kind, h.actor_id, u.email AS actor_email, h.data, h.created_at \
         FROM history h LEFT JOIN users u ON h.actor_kind = 'user' AND u.id = h.actor_id WHERE h.verification_id = $1 ORDER BY h.id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let data = rows
        .iter()
        .map(|row| {
            Ok(HistoryEntry {
                id: row.try_get("id")?,
                event: row.try_get("event")?,
                document_id: row.try_get("document_id")?,
                actor_type: row.try_get("actor_kind")?,
                actor_id: row.try_get("actor_id")?,
                actor_email: row.try_get("actor_email")?,
                data: json_column(row, "data")?.unwrap_or_else(|| json!({})),
                created_at: rfc3339(row.try_get("created_at")?),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(Page { data, next_cursor: None })
}
