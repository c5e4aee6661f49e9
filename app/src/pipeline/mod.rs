//! The processing pipeline (SPEC §5): a submitted verification's documents are read,
//! the selfie is compared with the photo ID, the rules run, and the flow's decision
//! policy decides. It runs as the durable job `process_verification`, enqueued by
//! submit in the same transaction.
//!
//! The handler is idempotent, because a crashed worker's job runs again elsewhere:
//! - each document is saved as soon as it is read, in its own transaction, and a
//!   document already `extracted` or `extraction_failed` is not read again;
//! - the decision is one transaction that moves the verification out of `submitted`
//!   only if it is still there (`UPDATE … WHERE status = 'submitted'`) and completes the
//!   job, so a verification is decided exactly once however many workers ran it.
//!
//! Extraction is CPU-bound native code: it runs on blocking threads under
//! `catch_unwind`, so a panic in a decoder becomes `provider_error`, never a crash.
//!
//! Nothing stays `submitted`: a document whose file cannot be read (missing from the
//! blob store, or not decrypting under this master key) is retried like any transient
//! failure and, on the last attempt, ends `extraction_failed` with `file_unavailable`;
//! any other failure (a database error that outlives the retries, a crash on every
//! attempt) ends in [`give_up`]: the waiting documents `extraction_failed` with
//! `processing_failed` and the verification in `needs_review`, with its history entry
//! and webhook event like any decision.

pub mod provider;
pub mod rules;
pub mod sandbox;

use crate::{
    access::Actor,
    documents::{blobs::FileError, service as documents, Document, DocumentStatus, Extracted},
    error::AppError,
    flows::{self, DocumentRole, Flow},
    jobs::{self, Job},
    journal::{self, Change},
    state::Environment,
    store::{now_ms, Db},
    verifications::{service as verifications, DecisionOutcome, RuleOutcome, Verification, VerificationStatus},
};
use attest_extract::Failure;
use provider::{DocumentInput, FaceEmbedding, Provider};
use rules::SelfieCheck;
use sandbox::Scenario;
use serde_json::json;
use std::{collections::HashMap, sync::Arc};

/// The job kind that submit enqueues.
pub const JOB: &str = "process_verification";

/// `failure_reason` of a document whose file could not be read or decrypted.
pub const FILE_UNAVAILABLE: &str = "file_unavailable";
/// `failure_reason` of a document left unread when processing failed for good.
pub const PROCESSING_FAILED: &str = "processing_failed";

/// Why a document ends `extraction_failed`: an extractor said so, its file could not be
/// read, or processing failed as a whole.
#[derive(Debug)]
enum Unread {
    Extractor(Failure),
    File(FileError),
    Processing,
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unread::Extractor(failure) => write!(f, "{failure:?}"),
            Unread::File(e) => write!(f, "{e}"),
            Unread::Processing => f.write_str("processing failed"),
        }
    }
}

impl Unread {
    fn code(&self) -> &'static str {
        match self {
            Unread::Extractor(f) => f.code(),
            Unread::File(_) => FILE_UNAVAILABLE,
            Unread::Processing => PROCESSING_FAILED,
        }
    }

    /// Worth another attempt: a provider error (a model can be installed meanwhile) or
    /// a file that may come back (a blob store outage, a master key being fixed).
    fn is_transient(&self) -> bool {
        match self {
            Unread::Extractor(f) => f.is_transient(),
            Unread::File(_) => true,
            Unread::Processing => false,
        }
    }
}

/// What the pipeline needs besides the database.
#[derive(Clone)]
pub struct Pipeline {
    pub provider: Arc<dyn Provider>,
    pub environment: Environment,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("environment", &self.environment).finish_non_exhaustive()
    }
}

/// Runs `f` on a blocking thread; a panic inside becomes `provider_error`.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Failure> + Send + 'static) -> Result<T, Failure> {
    let run = tokio::task::spawn_blocking(move || std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    match run.await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(Failure::ProviderError("the extractor panicked".into())),
        Err(e) => Err(Failure::ProviderError(format!("extraction task failed: {e}"))),
    }
}

fn to_wire(e: attest_extract::Extracted) -> Result<Extracted, AppError> {
    serde_json::to_value(e).and_then(serde_json::from_value).map_err(|e| AppError::internal("extracted data", e))
}

/// The job handler. `Err` means "try again later" (the queue backs off and retries).
pub async fn process(db: &Db, files: &crate::documents::blobs::DocumentFiles, pipeline: &Pipeline, job: &Job, worker: &str) -> Result<(), AppError> {
    let Some(id) = job.payload.get("verification_id").and_then(|v| v.as_str()) else {
        jobs::complete(db.pool(), &job.id, worker).await?;
        return Ok(());
    };
    let Some((workspace_id, flow)) = locate(db, id).await? else {
        jobs::complete(db.pool(), &job.id, worker).await?;
        return Ok(());
    };
    if job.attempts > job.max_attempts {
        // Every attempt failed (or crashed) and the giving up did not happen yet.
        return give_up(db, job, worker).await;
    }
    let mut v = verifications::get(db, &workspace_id, flow, id).await?;
    if v.status != VerificationStatus::Submitted {
        // Canceled meanwhile, or decided by an earlier run of this job.
        jobs::complete(db.pool(), &job.id, worker).await?;
        return Ok(());
    }
    let last_attempt = job.attempts >= job.max_attempts;
    let scenario = match pipeline.environment {
        Environment::Sandbox => Scenario::from_last_name(&v.applicant.last_name),
        Environment::Production => None,
    };

    // 1. Read every document not read yet; each result is saved at once.
    let mut faces: HashMap<String, FaceEmbedding> = HashMap::new();
    let pending: Vec<Document> = v.documents.iter().filter(|d| matches!(d.status, DocumentStatus::Uploaded | DocumentStatus::Processing)).cloned().collect();
    for doc in &pending {
        mark_processing(db, &workspace_id, flow, doc).await?;
        let result = match scenario {
            Some(s) => s.read(&v, doc.role, &doc.document_type, &doc.country).map_err(Unread::Extractor),
            None => read_document(db, files, &workspace_id, pipeline, doc, &mut faces).await?,
        };
        // Only a provider error or an unreadable file is retried; any other failure,
        // including a file that ran poppler or libheif out of its time or memory budget
        // (`image_too_large`), is the document's own outcome and is saved at once. On the
        // last attempt every failure is saved: the verification then goes to a person.
        match result {
            Err(unread) if unread.is_transient() && !last_attempt => {
                return Err(AppError::internal("extraction", format!("{}: {unread}", doc.id)));
            }
            outcome => save_reading(db, &workspace_id, flow, doc, outcome).await?,
        }
    }
    v = verifications::get(db, &workspace_id, flow, id).await?;

    // 2. The selfie against the photo ID's portrait.
    let config = flows::service::load(db, &workspace_id, flow).await?;
    let selfie = match scenario {
        // As the real pipeline: no face on the selfie, no score.
        Some(s) => match selfie_doc(&v) {
            None => SelfieCheck::Absent,
            Some(_) if s == Scenario::NoFace => SelfieCheck::NoFace { on: "selfie" },
            Some(_) => SelfieCheck::Scored { score: s.selfie_score(), threshold: config.selfie_threshold },
        },
        None => match compare_faces(db, files, &workspace_id, pipeline, &v, &mut faces, config.selfie_threshold).await {
            Err(failure) if failure.is_transient() && !last_attempt => return Err(AppError::internal("face match", format!("{failure:?}"))),
            Err(_) => SelfieCheck::NoFace { on: "photo ID" },
            Ok(check) => check,
        },
    };

    // 3. Rules and the decision policy.
    let blacklist: Vec<String> = flows::service::blacklist(db, &workspace_id).await?.iter().map(|a| attest_extract::normalize::address_text(a)).collect();
    // A proof of address may not be a CMRA (SPEC §5.3); this workspace's own is in its settings.
    let cmra_address = crate::compliance::service::cmra_profile(db, &workspace_id)
        .await?
        .map(|p| attest_extract::normalize::address(&p.address.line1, p.address.line2.as_deref(), &p.address.city, &p.address.state, &p.address.postal_code));
    let today = chrono::Utc::now().date_naive();
    let inputs =
        rules::Inputs { verification: &v, config: &config, blacklist: &blacklist, cmra_address: cmra_address.as_deref(), selfie: selfie.clone(), today };
    let rules = rules::evaluate(&inputs);
    let failures = rules::failures_by_document(&inputs, &rules);
    let extraction_failed = v.documents.iter().any(|d| d.status == DocumentStatus::ExtractionFailed);
    // A court-ordered protected individual's court order (box 4k) is read by a person.
    let court_order = v.documents.iter().any(|d| d.role == DocumentRole::CourtOrder && d.status != DocumentStatus::Canceled);
    let incomplete = extraction_failed || court_order || matches!(selfie, SelfieCheck::NoFace { .. });
    let status = rules::outcome(&config, &rules, incomplete);
    decide(db, &workspace_id, flow, &v, Checked { rules, failures, selfie }, status, job, worker, None).await
}

/// What the checks found: the rules, the failed ones by document, the selfie comparison.
struct Checked {
    rules: Vec<crate::verifications::RuleResult>,
    failures: std::collections::BTreeMap<String, Vec<String>>,
    selfie: SelfieCheck,
}

/// `uploaded` → `processing`, committed (with its history entry) before the document is
/// read, so a reader sees the pipeline at work. A document already `processing` (a
/// crashed worker's) is read again as it is.
async fn mark_processing(db: &Db, workspace_id: &str, flow: Flow, doc: &Document) -> Result<(), AppError> {
    if doc.status != DocumentStatus::Uploaded {
        return Ok(());
    }
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query("UPDATE documents SET status = 'processing', version = version + 1, updated_at = $1 WHERE id = $2 AND status = 'uploaded'")
        .bind(now_ms())
        .bind(&doc.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        return Ok(());
    }
    documents::record_document_change(
        &mut tx,
        flow,
        Change {
            workspace_id,
            verification_id: &doc.verification_id,
            document_id: Some(&doc.id),
            event: "document.processing",
            actor: &Actor::System,
            data: json!({ "type": doc.document_type, "role": doc.role.code() }),
        },
        false,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Runs one leased pipeline job to its end or records why not: a failed attempt is
/// retried with backoff; after the last one the verification is sent to review
/// ([`give_up`]), and while even that fails (the database is down) the job is
/// postponed, never dropped, so the next lease gives up again.
pub async fn run(db: &Db, files: &crate::documents::blobs::DocumentFiles, pipeline: &Pipeline, job: &Job, worker: &str) -> Result<(), AppError> {
    let error = match process(db, files, pipeline, job, worker).await {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if job.attempts < job.max_attempts {
        tracing::warn!(error = %error, attempt = job.attempts, "processing failed; it will be retried");
        jobs::fail(db.pool(), job, worker, &error.to_string(), jobs::backoff_ms(job.attempts)).await?;
        return Err(error);
    }
    tracing::error!(error = %error, attempt = job.attempts, "processing failed on the last attempt");
    match give_up(db, job, worker).await {
        Ok(()) => Err(error),
        Err(again) => {
            tracing::error!(error = %again, "sending the verification to review failed too; postponed");
            jobs::postpone(db.pool(), job, worker, &format!("{error}; giving up failed: {again}"), jobs::backoff_ms(job.attempts)).await?;
            Err(again)
        }
    }
}

/// The end of a verification whose processing failed on every attempt: the documents
/// still waiting become `extraction_failed` (`processing_failed`), the verification goes
/// to `needs_review` with its history entry and webhook event, and the job completes.
/// Reads nothing the failed attempts needed beyond the verification itself, so it
/// succeeds as soon as the database takes writes again. Idempotent.
pub async fn give_up(db: &Db, job: &Job, worker: &str) -> Result<(), AppError> {
    let Some(id) = job.payload.get("verification_id").and_then(|v| v.as_str()) else {
        jobs::complete(db.pool(), &job.id, worker).await?;
        return Ok(());
    };
    let Some((workspace_id, flow)) = locate(db, id).await? else {
        jobs::complete(db.pool(), &job.id, worker).await?;
        return Ok(());
    };
    let v = verifications::get(db, &workspace_id, flow, id).await?;
    if v.status != VerificationStatus::Submitted {
        jobs::complete(db.pool(), &job.id, worker).await?;
        return Ok(());
    }
    for doc in v.documents.iter().filter(|d| matches!(d.status, DocumentStatus::Uploaded | DocumentStatus::Processing)) {
        save_reading(db, &workspace_id, flow, doc, Err(Unread::Processing)).await?;
    }
    let v = verifications::get(db, &workspace_id, flow, id).await?;
    tracing::warn!(verification = %id, attempts = job.attempts, "processing failed on every attempt: the verification goes to review");
    decide(
        db,
        &workspace_id,
        flow,
        &v,
        Checked { rules: Vec::new(), failures: Default::default(), selfie: SelfieCheck::Absent },
        VerificationStatus::NeedsReview,
        job,
        worker,
        Some("Automatic processing failed; a person must review the documents."),
    )
    .await
}

async fn locate(db: &Db, id: &str) -> Result<Option<(String, Flow)>, AppError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT workspace_id, flow FROM verifications WHERE id = $1").bind(id).fetch_optional(db.pool()).await?;
    let Some(row) = row else { return Ok(None) };
    let flow: String = row.try_get("flow")?;
    Ok(Some((row.try_get("workspace_id")?, flow.parse().map_err(|_| AppError::internal("stored flow", &flow))?)))
}

fn selfie_doc(v: &Verification) -> Option<&Document> {
    v.documents.iter().find(|d| d.role == DocumentRole::Selfie && d.status != DocumentStatus::Canceled)
}

/// A document's decrypted sides; the outer error is the database's, the inner one the file's.
async fn sides(
    db: &Db,
    files: &crate::documents::blobs::DocumentFiles,
    workspace_id: &str,
    doc: &Document,
) -> Result<Result<(Vec<u8>, Option<Vec<u8>>), FileError>, AppError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT front_blob, back_blob FROM documents WHERE id = $1 AND workspace_id = $2")
        .bind(&doc.id)
        .bind(workspace_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    let (front_key, back_key): (String, Option<String>) = (row.try_get("front_blob")?, row.try_get("back_blob")?);
    let front = match files.read(&front_key).await {
        Ok(bytes) => bytes,
        Err(e) => return Ok(Err(e)),
    };
    let back = match back_key {
        Some(key) => match files.read(&key).await {
            Ok(bytes) => Some(bytes),
            Err(e) => return Ok(Err(e)),
        },
        None => None,
    };
    Ok(Ok((front, back)))
}

/// Reads one document with the real extractors. A selfie's reading is its face.
async fn read_document(
    db: &Db,
    files: &crate::documents::blobs::DocumentFiles,
    workspace_id: &str,
    pipeline: &Pipeline,
    doc: &Document,
    faces: &mut HashMap<String, FaceEmbedding>,
) -> Result<Result<Option<Extracted>, Unread>, AppError> {
    let (front, back) = match sides(db, files, workspace_id, doc).await? {
        Ok(sides) => sides,
        Err(e) => {
            tracing::warn!(document = %doc.id, error = %e, store = %files.store.describe(), "a document's file could not be read");
            return Ok(Err(Unread::File(e)));
        }
    };
    let provider = pipeline.provider.clone();
    if doc.role == DocumentRole::CourtOrder {
        // Read by the reviewer, not by a machine (the verification goes to review).
        return Ok(Ok(None));
    }
    if doc.role == DocumentRole::Selfie {
        let started = std::time::Instant::now();
        let face = blocking(move || provider.face(&front)).await;
        record_extractor("face", started, face.as_ref().err());
        return Ok(face
            .map(|embedding| {
                faces.insert(doc.id.clone(), embedding);
                None
            })
            .map_err(Unread::Extractor));
    }
    let (role, document_type, country) = (doc.role, doc.document_type.clone(), doc.country.clone());
    let extractor = match provider::method_for(role, &document_type) {
        provider::Method::Barcode => "pdf417",
        provider::Method::Mrz => "mrz",
        provider::Method::AddressText => "poa",
        provider::Method::None => "none",
    };
    let started = std::time::Instant::now();
    let read =
        blocking(move || provider.read(&DocumentInput { role, document_type: &document_type, country: &country, front: &front, back: back.as_deref() })).await;
    // Proofs of address are timed by the provider, which knows text layer from OCR.
    if extractor != "poa" {
        record_extractor(extractor, started, read.as_ref().err());
    }
    match read {
        Ok(e) => Ok(Ok(Some(to_wire(e)?))),
        Err(f) => Ok(Err(Unread::Extractor(f))),
    }
}

/// `attest_pipeline_extractor_seconds{extractor, outcome}`: outcome is `ok` or the failure code.
fn record_extractor(extractor: &'static str, started: std::time::Instant, failure: Option<&Failure>) {
    let outcome = failure.map(|f| f.code()).unwrap_or("ok");
    metrics::histogram!("attest_pipeline_extractor_seconds", "extractor" => extractor, "outcome" => outcome).record(started.elapsed().as_secs_f64());
}

/// Stores one document's reading: `extracted` with its data, or `extraction_failed`
/// with the reason. Only a document still waiting is changed (idempotent).
async fn save_reading(db: &Db, workspace_id: &str, flow: Flow, doc: &Document, outcome: Result<Option<Extracted>, Unread>) -> Result<(), AppError> {
    let (status, extracted, reason) = match &outcome {
        Ok(e) => {
            let json = e.as_ref().map(serde_json::to_string).transpose().map_err(|e| AppError::internal("extracted", e))?;
            (DocumentStatus::Extracted, json.map(|j| db.seal_pii(&j)).transpose()?, None)
        }
        Err(f) => (DocumentStatus::ExtractionFailed, None, Some(f.code())),
    };
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query("UPDATE documents SET status = $1, extracted = $2, failure_reason = $3, version = version + 1, updated_at = $4 WHERE id = $5 AND status IN ('uploaded', 'processing')")
        .bind(status.code())
        .bind(extracted)
        .bind(reason)
        .bind(now_ms())
        .bind(&doc.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        return Ok(());
    }
    let (event, data) = match &outcome {
        Ok(e) => ("document.extracted", json!({ "fields": e.as_ref().map(filled_fields).unwrap_or_default() })),
        Err(f) => ("document.extraction_failed", json!({ "reason": f.code() })),
    };
    documents::record_document_change(
        &mut tx,
        flow,
        Change { workspace_id, verification_id: &doc.verification_id, document_id: Some(&doc.id), event, actor: &Actor::System, data },
        true,
    )
    .await?;
    tx.commit().await?;
    db.wake_workers();
    Ok(())
}

fn filled_fields(e: &Extracted) -> Vec<&'static str> {
    let mut fields = Vec::new();
    for (name, present) in [
        ("first_name", e.first_name.is_some()),
        ("last_name", e.last_name.is_some()),
        ("date_of_birth", e.date_of_birth.is_some()),
        ("document_number", e.document_number.is_some()),
        ("expiry_date", e.expiry_date.is_some()),
        ("issuing_country", e.issuing_country.is_some()),
        ("address", e.address.is_some()),
    ] {
        if present {
            fields.push(name);
        }
    }
    fields
}

/// Compares the selfie with the portrait on the front of the photo ID.
async fn compare_faces(
    db: &Db,
    files: &crate::documents::blobs::DocumentFiles,
    workspace_id: &str,
    pipeline: &Pipeline,
    v: &Verification,
    faces: &mut HashMap<String, FaceEmbedding>,
    threshold: f64,
) -> Result<SelfieCheck, Failure> {
    let Some(selfie) = selfie_doc(v) else { return Ok(SelfieCheck::Absent) };
    if selfie.status == DocumentStatus::ExtractionFailed {
        // Its own failure (`no_face_found`) is on the document and sends it to review.
        return Ok(SelfieCheck::NoFace { on: "selfie" });
    }
    let Some(photo_id) = v.documents.iter().find(|d| d.role == DocumentRole::PhotoId && d.status != DocumentStatus::Canceled) else {
        return Ok(SelfieCheck::Absent);
    };
    let mut embedding_of = async |doc: &Document| -> Result<FaceEmbedding, Failure> {
        if let Some(e) = faces.get(&doc.id) {
            return Ok(e.clone());
        }
        let (front, _) =
            sides(db, files, workspace_id, doc).await.map_err(|e| Failure::ProviderError(e.to_string()))?.map_err(|e| Failure::ProviderError(e.to_string()))?;
        let provider = pipeline.provider.clone();
        let started = std::time::Instant::now();
        let e = blocking(move || provider.face(&front)).await;
        record_extractor("face", started, e.as_ref().err());
        let e = e?;
        faces.insert(doc.id.clone(), e.clone());
        Ok(e)
    };
    let selfie_face = match embedding_of(selfie).await {
        Ok(e) => e,
        Err(Failure::NoFaceFound) => return Ok(SelfieCheck::NoFace { on: "selfie" }),
        Err(e) => return Err(e),
    };
    let portrait = match embedding_of(photo_id).await {
        Ok(e) => e,
        Err(Failure::NoFaceFound) => return Ok(SelfieCheck::NoFace { on: "photo ID" }),
        Err(e) => return Err(e),
    };
    let score = (pipeline.provider.similarity(&selfie_face, &portrait) * 1000.0).round() / 1000.0;
    Ok(SelfieCheck::Scored { score, threshold })
}

/// The one transaction that decides: status, rules, selfie score, decision, each
/// document's outcome, history and events, and the job's completion.
#[allow(clippy::too_many_arguments)]
async fn decide(
    db: &Db,
    workspace_id: &str,
    flow: Flow,
    v: &Verification,
    checked: Checked,
    status: VerificationStatus,
    job: &Job,
    worker: &str,
    note: Option<&str>,
) -> Result<(), AppError> {
    let Checked { rules, failures, selfie } = checked;
    let failed: Vec<&str> = rules.iter().filter(|r| r.result == RuleOutcome::Fail).map(|r| r.name.as_str()).collect();
    let decision = match status {
        VerificationStatus::Approved => Some((DecisionOutcome::Approved, "All checks passed.".to_string())),
        VerificationStatus::Rejected => Some((DecisionOutcome::Rejected, format!("Failed checks: {}.", failed.join(", ")))),
        _ => None,
    };
    let (score, threshold) = match selfie {
        SelfieCheck::Scored { score, threshold } => (Some(score), Some(threshold)),
        _ => (None, None),
    };
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let moved = sqlx::query(
        "UPDATE verifications SET status = $1, rules = $2, selfie_score = $3, selfie_threshold = $4, decision_outcome = $5, decision_reason = $6, \
         decision_by = $7, decision_at = $8, failed_rules = $10 WHERE id = $9 AND status = 'submitted'",
    )
    .bind(status.code())
    .bind(db.seal_pii(&serde_json::to_string(&rules).map_err(|e| AppError::internal("rules", e))?)?)
    .bind(score)
    .bind(threshold)
    .bind(decision.as_ref().map(|(o, _)| o.code()))
    .bind(decision.as_ref().map(|(_, r)| r.clone()))
    .bind(decision.as_ref().map(|_| "system"))
    .bind(decision.as_ref().map(|_| now))
    .bind(&v.id)
    .bind(rules::failed_key(&rules))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        // Decided by another run, or canceled meanwhile: nothing more to do.
        jobs::complete(&mut *tx, &job.id, worker).await?;
        tx.commit().await?;
        return Ok(());
    }
    // A document that failed a rule carries the reason itself (read documents only: an
    // unread one keeps its extraction failure); a retake's second run clears a reason
    // that no longer holds.
    for doc in v.documents.iter().filter(|d| matches!(d.status, DocumentStatus::Extracted | DocumentStatus::Approved | DocumentStatus::Rejected)) {
        let reason = failures.get(&doc.id).map(|names| names.join(","));
        if reason != doc.failure_reason {
            sqlx::query("UPDATE documents SET failure_reason = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                .bind(reason)
                .bind(now)
                .bind(&doc.id)
                .execute(&mut *tx)
                .await?;
        }
    }
    let actor = Actor::System;
    journal::record(
        &mut tx,
        &Change {
            workspace_id,
            verification_id: &v.id,
            document_id: None,
            event: "rules.evaluated",
            actor: &actor,
            data: json!({ "rules": rules, "failed": failed }),
        },
    )
    .await?;
    let event = match status {
        VerificationStatus::Approved => "verification.approved",
        VerificationStatus::Rejected => "verification.rejected",
        _ => "verification.needs_review",
    };
    let change = Change {
        workspace_id,
        verification_id: &v.id,
        document_id: None,
        event,
        actor: &actor,
        data: json!({ "from": "submitted", "to": status.code(), "failed_rules": failed, "reason": decision.as_ref().map(|(_, r)| r.clone()).or(note.map(str::to_string)) }),
    };
    verifications::touch_and_record(&mut tx, workspace_id, flow, &v.id, change).await?;
    if status == VerificationStatus::Approved {
        crate::compliance::reverify::apply(&mut tx, workspace_id, &v.id, &actor).await?;
    }
    // An automatic decision decides the documents it rests on, too.
    if let Some((outcome, reason)) = &decision {
        for doc in v.documents.iter().filter(|d| d.status == DocumentStatus::Extracted) {
            sqlx::query("UPDATE documents SET status = $1, decision_outcome = $1, decision_reason = $2, decision_by = 'system', decision_at = $3, version = version + 1, updated_at = $3 WHERE id = $4")
                .bind(outcome.code())
                .bind(reason)
                .bind(now)
                .bind(&doc.id)
                .execute(&mut *tx)
                .await?;
            let event = if *outcome == DecisionOutcome::Approved { "document.approved" } else { "document.rejected" };
            documents::record_document_change(
                &mut tx,
                flow,
                Change { workspace_id, verification_id: &v.id, document_id: Some(&doc.id), event, actor: &actor, data: json!({ "reason": reason }) },
                true,
            )
            .await?;
        }
    }
    jobs::complete(&mut *tx, &job.id, worker).await?;
    tx.commit().await?;
    if let Some((outcome, _)) = &decision {
        crate::verifications::service::record_decided(db, flow, &v.id, outcome.code(), "auto").await;
    }
    db.wake_workers();
    Ok(())
}
