//! Capture links: created for one verification of one workspace, found again only by the
//! SHA-256 of their token, usable while the link is neither expired, revoked nor used and
//! the verification is still `started`. The applicant's uploads go through the documents
//! service (same caps, sniffing, encryption) after the immediate [`checks`](super::checks).
//! Opening and completing a link are verification events, journaled like any other change.

use super::{
    checks, needs_back, CaptureLink, CaptureLinkState, CaptureView, CreateCaptureLink, CreatedCaptureLink, LiveCapture, Problem, Step, StepView,
    DEFAULT_EXPIRES_IN_MINUTES, EXPIRES_IN_MINUTES_RANGE, MAX_REDIRECT_URL,
};
use crate::{
    access::Actor,
    dates::rfc3339,
    documents::{
        service::{self as documents, Part, Upload, TYPE_NOT_ALLOWED},
        DocumentStatus,
    },
    error::{AppError, FieldErrors},
    flows::{self, DocumentRole, Flow},
    journal::{self, Change},
    state::AppState,
    store::{
        ids::{new_id, random_secret},
        now_ms, Db,
    },
    verifications::{service as verifications, VerificationStatus},
};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{any::AnyRow, Row};

/// Requests a single link may make per minute (page loads, uploads, submit).
pub const REQUESTS_PER_MINUTE: u64 = 60;

/// The stored form of a link's token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A link as stored.
#[derive(Debug, Clone)]
struct Link {
    id: String,
    workspace_id: String,
    verification_id: String,
    redirect_url: Option<String>,
    expires_at: i64,
    revoked_at: Option<i64>,
    consented_at: Option<i64>,
    opened_at: Option<i64>,
    completed_at: Option<i64>,
    pending_type: Option<String>,
    pending_blob: Option<String>,
    created_at: i64,
}

const COLUMNS: &str =
    "id, workspace_id, verification_id, redirect_url, expires_at, revoked_at, consented_at, opened_at, completed_at, pending_type, pending_blob, created_at";

fn decode(row: &AnyRow) -> Result<Link, AppError> {
    Ok(Link {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        verification_id: row.try_get("verification_id")?,
        redirect_url: row.try_get("redirect_url")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        consented_at: row.try_get("consented_at")?,
        opened_at: row.try_get("opened_at")?,
        completed_at: row.try_get("completed_at")?,
        pending_type: row.try_get("pending_type")?,
        pending_blob: row.try_get("pending_blob")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Link {
    fn actor(&self) -> Actor {
        Actor::Applicant { link_id: self.id.clone(), workspace_id: self.workspace_id.clone() }
    }

    fn state(&self, verification_status: VerificationStatus, now: i64) -> CaptureLinkState {
        if self.completed_at.is_some() {
            CaptureLinkState::Completed
        } else if self.revoked_at.is_some() {
            CaptureLinkState::Revoked
        } else if self.expires_at <= now {
            CaptureLinkState::Expired
        } else if verification_status != VerificationStatus::Started {
            CaptureLinkState::Closed
        } else {
            CaptureLinkState::Active
        }
    }

    fn wire(&self, verification_status: VerificationStatus) -> CaptureLink {
        CaptureLink {
            id: self.id.clone(),
            state: self.state(verification_status, now_ms()),
            redirect_url: self.redirect_url.clone(),
            expires_at: rfc3339(self.expires_at),
            opened_at: self.opened_at.map(rfc3339),
            completed_at: self.completed_at.map(rfc3339),
            revoked_at: self.revoked_at.map(rfc3339),
            created_at: rfc3339(self.created_at),
        }
    }
}

/// The lifetime in minutes and the redirect, or 422 with every field's message.
fn validate(input: &CreateCaptureLink) -> Result<(i64, Option<String>), AppError> {
    let mut errors = FieldErrors::new();
    let minutes = input.expires_in_minutes.unwrap_or(DEFAULT_EXPIRES_IN_MINUTES);
    if !EXPIRES_IN_MINUTES_RANGE.contains(&minutes) {
        errors.insert(
            "expires_in_minutes".into(),
            vec![format!("The expires_in_minutes must be between {} and {}.", EXPIRES_IN_MINUTES_RANGE.start(), EXPIRES_IN_MINUTES_RANGE.end())],
        );
    }
    let redirect = input.redirect_url.as_deref().map(str::trim).filter(|u| !u.is_empty());
    if let Some(url) = redirect {
        if let Err(message) = check_redirect(url) {
            errors.insert("redirect_url".into(), vec![message.into()]);
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok((minutes, redirect.map(str::to_string)))
}

/// An absolute `http(s)` URL with a host, of printable ASCII only: the parser would
/// silently drop tabs and line breaks, so the raw text is checked first.
fn check_redirect(url: &str) -> Result<(), &'static str> {
    if url.len() > MAX_REDIRECT_URL {
        return Err("The redirect_url may not be greater than 2000 characters.");
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("The redirect_url may not contain spaces or control characters.");
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| "The redirect_url must be an absolute http or https URL.")?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err("The redirect_url must be an absolute http or https URL.");
    }
    Ok(())
}

/// Creates a link for verification `id` (404 for another workspace's, 400 unless `started`).
pub async fn create(
    db: &Db,
    public_url: &str,
    workspace_id: &str,
    flow: Flow,
    verification_id: &str,
    input: &CreateCaptureLink,
    actor: &Actor,
) -> Result<CreatedCaptureLink, AppError> {
    let mut tx = db.begin_write().await?;
    let verification = verifications::find(&mut *tx, workspace_id, flow, verification_id).await?;
    verifications::ensure_started(verification.status)?;
    let (minutes, redirect_url) = validate(input)?;
    let id = new_id("cap");
    let token = random_secret(32);
    let now = now_ms();
    let expires_at = now + minutes * 60_000;
    let (kind, by) = actor.kind_and_id();
    sqlx::query(
        "INSERT INTO capture_links (id, workspace_id, verification_id, token_sha256, redirect_url, expires_at, created_by_kind, created_by_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(verification_id)
    .bind(hash_token(&token))
    .bind(redirect_url)
    .bind(expires_at)
    .bind(kind)
    .bind(by)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let change = Change {
        workspace_id,
        verification_id,
        document_id: None,
        event: "verification.capture_link_created",
        actor,
        data: json!({ "link_id": id, "expires_at": rfc3339(expires_at) }),
    };
    journal::record(&mut tx, &change).await?;
    tx.commit().await?;
    Ok(CreatedCaptureLink { id, url: format!("{}/c/{token}", public_url.trim_end_matches('/')), expires_at: rfc3339(expires_at) })
}

/// Creates a link with the defaults and e-mails it to the applicant (their `email`),
/// through the configured mailer. A link that could not be sent is revoked at once.
pub async fn send_by_email(state: &AppState, workspace_id: &str, flow: Flow, verification_id: &str, actor: &Actor) -> Result<CreatedCaptureLink, AppError> {
    let verification = verifications::find(state.db.pool(), workspace_id, flow, verification_id).await?;
    let applicant = &verification.verification.applicant;
    let Some(to) = applicant.email.clone().filter(|e| !e.trim().is_empty()) else {
        return Err(AppError::BadRequest("The applicant has no e-mail address. Add one to the verification first.".into()));
    };
    let workspace_name: String = sqlx::query_scalar("SELECT name FROM workspaces WHERE id = $1").bind(workspace_id).fetch_one(state.db.pool()).await?;
    let created = create(&state.db, &state.settings.public_url, workspace_id, flow, verification_id, &CreateCaptureLink::default(), actor).await?;
    let email = crate::mail::Email {
        to,
        subject: format!("{workspace_name}: please photograph your documents"),
        body: format!(
            "Hello {},\n\n{workspace_name} asks you to verify your identity. Open this link on your phone to photograph your documents \
             (it works until {} UTC):\n{}\n\nIf you did not expect this, ignore this e-mail.\n",
            applicant.first_name,
            crate::dates::to_minute(&created.expires_at),
            created.url
        ),
    };
    if let Err(e) = state.mailer.send(email).await {
        revoke(&state.db, &state.files, workspace_id, flow, verification_id, &created.id, actor).await?;
        return Err(e);
    }
    Ok(created)
}

/// The links of a verification, newest first.
pub async fn list(db: &Db, workspace_id: &str, flow: Flow, verification_id: &str) -> Result<Vec<CaptureLink>, AppError> {
    let verification = verifications::find(db.pool(), workspace_id, flow, verification_id).await?;
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM capture_links WHERE verification_id = $1 AND workspace_id = $2 ORDER BY id DESC"))
        .bind(verification_id)
        .bind(workspace_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|row| Ok(decode(row)?.wire(verification.status))).collect()
}

/// Revokes a link (404 when it is not this verification's); revoking twice is harmless.
pub async fn revoke(
    db: &Db,
    files: &crate::documents::blobs::DocumentFiles,
    workspace_id: &str,
    flow: Flow,
    verification_id: &str,
    link_id: &str,
    actor: &Actor,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    verifications::find(&mut *tx, workspace_id, flow, verification_id).await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM capture_links WHERE id = $1 AND verification_id = $2 AND workspace_id = $3"))
        .bind(link_id)
        .bind(verification_id)
        .bind(workspace_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let link = decode(&row)?;
    if link.revoked_at.is_some() {
        return Ok(());
    }
    sqlx::query("UPDATE capture_links SET revoked_at = $1, pending_type = NULL, pending_blob = NULL WHERE id = $2")
        .bind(now_ms())
        .bind(link_id)
        .execute(&mut *tx)
        .await?;
    let change =
        Change { workspace_id, verification_id, document_id: None, event: "verification.capture_link_revoked", actor, data: json!({ "link_id": link_id }) };
    journal::record(&mut tx, &change).await?;
    tx.commit().await?;
    if let Some(blob) = link.pending_blob {
        files.delete(&blob).await;
    }
    Ok(())
}

/// Why an applicant's request was not done.
#[derive(Debug)]
pub enum Refusal {
    /// The link is unknown, expired, revoked, used, or its verification moved on.
    LinkInvalid,
    /// Something the applicant can fix.
    Problem(Problem),
    Error(AppError),
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Refusal::Error(e)
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Refusal::Error(e.into())
    }
}

/// A usable link with its verification.
struct Live {
    link: Link,
    verification: verifications::Row_,
}

/// The link of `token`, when it may still be used.
async fn resolve(db: &Db, token: &str) -> Result<Live, Refusal> {
    // Tokens are ours: 43 base64url characters. Anything else is not looked up.
    if token.len() > 64 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(Refusal::LinkInvalid);
    }
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM capture_links WHERE token_sha256 = $1"))
        .bind(hash_token(token))
        .fetch_optional(db.pool())
        .await?
        .ok_or(Refusal::LinkInvalid)?;
    let link = decode(&row)?;
    let flow: String = sqlx::query_scalar("SELECT flow FROM verifications WHERE id = $1").bind(&link.verification_id).fetch_one(db.pool()).await?;
    let flow: Flow = flow.parse().map_err(|_| AppError::internal("stored flow", &flow))?;
    let verification = verifications::find(db.pool(), &link.workspace_id, flow, &link.verification_id).await?;
    if link.state(verification.status, now_ms()) != CaptureLinkState::Active {
        return Err(Refusal::LinkInvalid);
    }
    Ok(Live { link, verification })
}

/// What the applicant's page shows for `token`. The first view of a live link records
/// `verification.capture_opened`.
pub async fn view(state: &AppState, token: &str) -> Result<CaptureView, AppError> {
    let live = match resolve(&state.db, token).await {
        Ok(live) => live,
        Err(Refusal::LinkInvalid | Refusal::Problem(_)) => return completed(&state.db, token).await,
        Err(Refusal::Error(e)) => return Err(e),
    };
    if live.link.opened_at.is_none() {
        mark_opened(&state.db, &live).await?;
    }
    let url = format!("{}/c/{token}", state.settings.public_url.trim_end_matches('/'));
    Ok(CaptureView::Live(Box::new(describe(&state.db, &live, url).await?)))
}

/// A link that cannot be used: a thank-you when the applicant completed it, else invalid.
async fn completed(db: &Db, token: &str) -> Result<CaptureView, AppError> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT w.name FROM capture_links l JOIN workspaces w ON w.id = l.workspace_id WHERE l.token_sha256 = $1 AND l.completed_at IS NOT NULL",
    )
    .bind(hash_token(token))
    .fetch_optional(db.pool())
    .await?;
    Ok(name.map(|workspace_name| CaptureView::Completed { workspace_name }).unwrap_or(CaptureView::Invalid))
}

async fn mark_opened(db: &Db, live: &Live) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let first =
        sqlx::query("UPDATE capture_links SET opened_at = $1 WHERE id = $2 AND opened_at IS NULL").bind(now_ms()).bind(&live.link.id).execute(&mut *tx).await?;
    if first.rows_affected() == 1 {
        let change = Change {
            workspace_id: &live.link.workspace_id,
            verification_id: &live.link.verification_id,
            document_id: None,
            event: "verification.capture_opened",
            actor: &live.link.actor(),
            data: json!({ "link_id": live.link.id }),
        };
        verifications::touch_and_record(&mut tx, &live.link.workspace_id, live.verification.flow, &live.link.verification_id, change).await?;
    }
    tx.commit().await?;
    db.wake_workers();
    Ok(())
}

/// The roles already covered by a document that is not canceled.
async fn roles_done(db: &Db, verification_id: &str) -> Result<Vec<DocumentRole>, AppError> {
    Ok(documents::list_for(db.pool(), verification_id).await?.into_iter().filter(|d| d.status != DocumentStatus::Canceled).map(|d| d.role).collect())
}

async fn describe(db: &Db, live: &Live, url: String) -> Result<LiveCapture, AppError> {
    let config = flows::service::load(db, &live.link.workspace_id, live.verification.flow).await?;
    let workspace_name: String = sqlx::query_scalar("SELECT name FROM workspaces WHERE id = $1").bind(&live.link.workspace_id).fetch_one(db.pool()).await?;
    let done = roles_done(db, &live.link.verification_id).await?;
    let v = &live.verification.verification;
    let asks_for_poa = config.required_roles.contains(&DocumentRole::ProofOfAddress);
    let photo_id_type = v.photo_id.as_ref().map(|p| p.document_type.clone()).unwrap_or_else(|| config.photo_id_types.first().cloned().unwrap_or_default());
    let photo_done = done.contains(&DocumentRole::PhotoId);
    let mut steps = vec![StepView { step: Step::Consent, done: live.link.consented_at.is_some() }];
    steps.push(StepView { step: Step::IdFront, done: photo_done || live.link.pending_type.is_some() });
    let back_asked = live.link.pending_type.as_deref().map(needs_back).unwrap_or_else(|| needs_back(&photo_id_type));
    if back_asked {
        steps.push(StepView { step: Step::IdBack, done: photo_done });
    }
    if asks_for_poa {
        steps.push(StepView { step: Step::ProofOfAddress, done: done.contains(&DocumentRole::ProofOfAddress) });
    }
    steps.push(StepView { step: Step::Selfie, done: done.contains(&DocumentRole::Selfie) });
    steps.push(StepView { step: Step::Review, done: false });
    let current = steps.iter().find(|s| !s.done).map(|s| s.step).unwrap_or(Step::Review);
    let qr_svg = qrcode::QrCode::new(url.as_bytes())
        .map(|code| code.render::<qrcode::render::svg::Color>().min_dimensions(180, 180).quiet_zone(true).build())
        .unwrap_or_default();
    Ok(LiveCapture {
        workspace_name,
        first_name: v.applicant.first_name.clone(),
        flow: live.verification.flow,
        steps,
        current,
        photo_id_type,
        photo_id_types: config.photo_id_types.clone(),
        pending_type: live.link.pending_type.clone(),
        proof_of_address_type: asks_for_poa.then(|| v.proof_of_address.as_ref().map(|p| p.document_type.clone())).flatten(),
        proof_of_address_types: if asks_for_poa { config.proof_of_address_types.clone() } else { Vec::new() },
        url,
        qr_svg,
    })
}

/// The applicant agreed to have their documents checked.
pub async fn consent(db: &Db, token: &str) -> Result<(), Refusal> {
    let live = resolve(db, token).await?;
    sqlx::query("UPDATE capture_links SET consented_at = $1 WHERE id = $2 AND consented_at IS NULL")
        .bind(now_ms())
        .bind(&live.link.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// One photo of one step: checked at once ([`checks`]); kept only when it passes. A card's
/// front waits (encrypted, in the blob store) for its back, then both become one document.
pub async fn upload(state: &AppState, token: &str, step: Step, chosen_type: Option<String>, file: Part) -> Result<(), Refusal> {
    let live = resolve(&state.db, token).await?;
    if live.link.consented_at.is_none() {
        return Err(Refusal::Problem(Problem::Refused));
    }
    let flow = live.verification.flow;
    let config = flows::service::load(&state.db, &live.link.workspace_id, flow).await?;
    let v = &live.verification.verification;
    let done = roles_done(&state.db, &live.link.verification_id).await?;
    let document_type = match step {
        Step::IdFront => {
            let chosen = chosen_type.or_else(|| v.photo_id.as_ref().map(|p| p.document_type.clone())).unwrap_or_default();
            if !config.photo_id_types.contains(&chosen) {
                return Err(Refusal::Problem(Problem::TypeNotAccepted));
            }
            chosen
        }
        Step::IdBack => live.link.pending_type.clone().ok_or(Refusal::Problem(Problem::Refused))?,
        Step::ProofOfAddress => {
            let chosen = chosen_type.or_else(|| v.proof_of_address.as_ref().map(|p| p.document_type.clone())).unwrap_or_default();
            if !config.proof_of_address_types.contains(&chosen) {
                return Err(Refusal::Problem(Problem::TypeNotAccepted));
            }
            chosen
        }
        Step::Selfie => "selfie".to_string(),
        Step::Consent | Step::Review | Step::Done => return Err(Refusal::Problem(Problem::Refused)),
    };
    let role = match step {
        Step::IdFront | Step::IdBack => DocumentRole::PhotoId,
        Step::ProofOfAddress => DocumentRole::ProofOfAddress,
        _ => DocumentRole::Selfie,
    };
    if done.contains(&role) {
        return Err(Refusal::Problem(Problem::Refused));
    }
    let bytes = match file {
        Part::Missing => return Err(Refusal::Problem(Problem::NoFile)),
        Part::TooLarge => return Err(Refusal::Problem(Problem::FileTooLarge)),
        Part::Bytes(bytes) => std::sync::Arc::new(bytes),
    };
    checks::check(state.pipeline.provider.clone(), step, document_type.clone(), bytes.clone()).await.map_err(Refusal::Problem)?;
    let bytes = std::sync::Arc::try_unwrap(bytes).unwrap_or_else(|shared| (*shared).clone());

    if step == Step::IdFront && needs_back(&document_type) {
        let key = format!("{}/capture/{}/front", live.link.workspace_id, live.link.id);
        state.files.put(&key, bytes).await?;
        sqlx::query("UPDATE capture_links SET pending_type = $1, pending_blob = $2 WHERE id = $3")
            .bind(&document_type)
            .bind(&key)
            .bind(&live.link.id)
            .execute(state.db.pool())
            .await?;
        return Ok(());
    }
    let (front, back) = match (step, &live.link.pending_blob) {
        (Step::IdBack, Some(blob)) => (state.files.get(blob).await?, Some(bytes)),
        (Step::IdBack, None) => return Err(Refusal::Problem(Problem::Refused)),
        _ => (bytes, None),
    };
    let country = match role {
        DocumentRole::PhotoId => v.photo_id.as_ref().map(|p| p.country.clone()),
        DocumentRole::ProofOfAddress => v.proof_of_address.as_ref().map(|p| p.country.clone()),
        DocumentRole::Selfie | DocumentRole::CourtOrder => None,
    }
    .unwrap_or_else(|| v.applicant.address.country.clone());
    let upload =
        Upload { document_type: Some(document_type), country: Some(country), front: Part::Bytes(front), back: back.map(Part::Bytes).unwrap_or(Part::Missing) };
    match documents::upload(&state.db, &state.files, &live.link.workspace_id, flow, &live.link.verification_id, upload, &live.link.actor()).await {
        Ok(_) => {}
        Err(AppError::BadRequest(message)) if message == TYPE_NOT_ALLOWED => return Err(Refusal::Problem(Problem::TypeNotAccepted)),
        Err(AppError::Validation(fields)) if fields.contains_key("file") || fields.contains_key("back") => return Err(Refusal::Problem(Problem::NotAnImage)),
        Err(AppError::BadRequest(_) | AppError::Validation(_)) => return Err(Refusal::Problem(Problem::Refused)),
        Err(e) => return Err(Refusal::Error(e)),
    }
    if let (Step::IdBack, Some(blob)) = (step, &live.link.pending_blob) {
        sqlx::query("UPDATE capture_links SET pending_type = NULL, pending_blob = NULL WHERE id = $1").bind(&live.link.id).execute(state.db.pool()).await?;
        state.files.delete(blob).await;
    }
    Ok(())
}

/// Submits the verification and records `verification.capture_completed`, in one
/// transaction. Answers where the applicant goes next (the integrator's `redirect_url`).
pub async fn submit(db: &Db, token: &str) -> Result<Option<String>, Refusal> {
    let live = resolve(db, token).await?;
    let flow = live.verification.flow;
    let config = flows::service::load(db, &live.link.workspace_id, flow).await?;
    let actor = live.link.actor();
    let (workspace_id, verification_id) = (live.link.workspace_id.as_str(), live.link.verification_id.as_str());
    let mut tx = db.begin_write().await?;
    match verifications::submit_in(&mut tx, &config, workspace_id, verification_id, &actor).await {
        Ok(_) => {}
        Err(AppError::BadRequest(message)) if message.starts_with("The verification is missing required documents") => {
            return Err(Refusal::Problem(Problem::Incomplete))
        }
        Err(AppError::BadRequest(_)) => return Err(Refusal::LinkInvalid),
        Err(e) => return Err(Refusal::Error(e)),
    }
    let completed = sqlx::query("UPDATE capture_links SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(&live.link.id)
        .execute(&mut *tx)
        .await?;
    if completed.rows_affected() != 1 {
        return Err(Refusal::LinkInvalid);
    }
    let change = Change {
        workspace_id,
        verification_id,
        document_id: None,
        event: "verification.capture_completed",
        actor: &actor,
        data: json!({ "link_id": live.link.id }),
    };
    verifications::touch_and_record(&mut tx, workspace_id, flow, verification_id, change).await?;
    tx.commit().await?;
    db.wake_workers();
    metrics::counter!("attest_verifications_submitted_total", "flow" => flow.code()).increment(1);
    Ok(live.link.redirect_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_redirect_urls_are_refused() {
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "/relative",
            "https://ex ample.com",
            "https://example.com/\n/x",
            "https://exa\tmple.com",
            "ftp://example.com",
            "https://",
        ] {
            assert!(check_redirect(bad).is_err(), "{bad:?}");
        }
        for good in ["https://example.com/done?x=1", "http://127.0.0.1:8080/back"] {
            assert!(check_redirect(good).is_ok(), "{good}");
        }
    }
}
