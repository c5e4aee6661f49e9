//! CMRA compliance, `usps1583` only (SPEC §10): the PS Form 1583 record
//! (`…/verifications/{id}/form-1583`, JSON or PDF), the evidence pack, re-verification,
//! the expiring photo IDs, the quarterly certification report, and the CMRA's own name
//! and address (box 2).

use super::{body::JsonBody, parse_flow};
use app::{
    access::{tokens::TokenIdentity, Scope},
    compliance::{evidence, expiry, quarterly, retention, reverify, service, Certification, CmraProfile, ExpiringId, QuarterlyReport, RetentionPolicy},
    error::AppError,
    flows::Flow,
    state::AppState,
    verifications::Verification,
};
use axum::{
    extract::{Extension, Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(form_1583))
        .routes(routes!(evidence_pack))
        .routes(routes!(start_reverification))
        .routes(routes!(expiring_ids))
        .routes(routes!(quarterly_report))
        .routes(routes!(certify_quarter))
        .routes(routes!(get_cmra_profile, set_cmra_profile))
        .routes(routes!(get_retention_policy, set_retention_policy))
        .routes(routes!(set_legal_hold))
        .routes(routes!(redact_verification))
}

/// The flow of a compliance path: only `usps1583` has one (404 otherwise).
fn usps1583(flow: &str) -> Result<Flow, AppError> {
    let flow = parse_flow(flow)?;
    service::require_usps1583(flow)?;
    Ok(flow)
}

/// A download: its media type, a file name, never cached.
pub fn download(media_type: &'static str, file_name: &str, bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let safe: String = file_name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FormatParams {
    /// `json` (default) or `pdf`.
    format: Option<String>,
}

/// `json` or `pdf` (or `csv` where `csv_too`); anything else is a 422.
pub fn output_format(format: Option<&str>, csv_too: bool) -> Result<&'static str, AppError> {
    match format.unwrap_or("json") {
        "json" | "" => Ok("json"),
        "pdf" => Ok("pdf"),
        "csv" if csv_too => Ok("csv"),
        _ => Err(AppError::invalid("format", if csv_too { "The format must be json, csv or pdf." } else { "The format must be json or pdf." })),
    }
}

/// The PS Form 1583 record keyed by box number (`"8d": "2031-08-31"`), or with
/// `?format=pdf` a printable PDF. 409 until the verification is approved (scope `documents:read`).
#[utoipa::path(get, path = "/{flow}/verifications/{id}/form-1583", tag = "compliance",
    params(("flow" = String, Path, description = "`usps1583`"), ("id" = String, Path), FormatParams),
    responses((status = 200, body = std::collections::BTreeMap<String, Option<String>>, description = "Boxes 1a–9g; 5–7 only for a business mailbox"),
        (status = 409, body = app::verifications::requests::ErrorBody, description = "Not approved yet")))]
#[tracing::instrument(skip_all)]
async fn form_1583(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
    params: Result<Query<FormatParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    token.require(Scope::DocumentsRead)?;
    let flow = usps1583(&flow)?;
    let Query(params) = params.map_err(|_| AppError::invalid("query", "The query string is malformed."))?;
    match output_format(params.format.as_deref(), false)? {
        "pdf" => Ok(download("application/pdf", &format!("form-1583-{id}.pdf"), service::form_1583_pdf(&state.db, &token.workspace_id, flow, &id).await?)),
        _ => Ok(Json(service::form_1583(&state.db, &token.workspace_id, flow, &id).await?).into_response()),
    }
}

/// The evidence pack: a zip with the form PDF (once approved), the decrypted document
/// images, the verification, history and decision as JSON, and `manifest.json` (SHA-256
/// of every file). Each download is an activity entry (scope `documents:read`).
#[utoipa::path(get, path = "/{flow}/verifications/{id}/evidence", tag = "compliance",
    params(("flow" = String, Path, description = "`usps1583`"), ("id" = String, Path)),
    responses((status = 200, content_type = "application/zip", description = "The evidence pack")))]
#[tracing::instrument(skip_all)]
async fn evidence_pack(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    token.require(Scope::DocumentsRead)?;
    let flow = usps1583(&flow)?;
    let zip = evidence::pack(&state.db, &state.files, &token.workspace_id, flow, &id, &token.actor()).await?;
    Ok(download("application/zip", &format!("evidence-{id}.zip"), zip))
}

/// Starts a re-verification of an approved record: a linked follow-up verification
/// (`started`, applicant pre-filled) that needs only a new photo ID (and the selfie when
/// the flow requires one). Its approval makes its photo ID box 8 of this record.
#[utoipa::path(post, path = "/{flow}/verifications/{id}/reverify", tag = "compliance",
    params(("flow" = String, Path, description = "`usps1583`"), ("id" = String, Path)),
    responses((status = 201, body = Verification, description = "The follow-up verification")))]
#[tracing::instrument(skip_all)]
async fn start_reverification(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Verification>), AppError> {
    token.require(Scope::VerificationsWrite)?;
    let flow = usps1583(&flow)?;
    let follow_up = reverify::start(&state.db, state.settings.environment, &token.workspace_id, flow, &id, &token.actor()).await?;
    Ok((StatusCode::CREATED, Json(follow_up)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExpiringParams {
    /// At most this many days left (default 60).
    within: Option<String>,
    /// `expiring`, `expired`, or both when absent.
    state: Option<String>,
    /// Part of a PMB or a name.
    q: Option<String>,
}

/// Approved records of open boxes whose photo ID expires within `within` days or has expired.
#[utoipa::path(get, path = "/{flow}/compliance/expiring-ids", tag = "compliance",
    params(("flow" = String, Path, description = "`usps1583`"), ExpiringParams),
    responses((status = 200, body = app::verifications::Page<ExpiringId>)))]
#[tracing::instrument(skip_all)]
async fn expiring_ids(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(flow): Path<String>,
    params: Result<Query<ExpiringParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<app::verifications::Page<ExpiringId>>, AppError> {
    token.require(Scope::VerificationsRead)?;
    usps1583(&flow)?;
    let Query(params) = params.map_err(|_| AppError::invalid("query", "The query string is malformed."))?;
    let within_days = params
        .within
        .map(|w| {
            w.parse::<i64>()
                .ok()
                .filter(|w| (0..=3650).contains(w))
                .ok_or_else(|| AppError::invalid("within", "The within must be a number of days (0 to 3650)."))
        })
        .transpose()?;
    if params.state.as_deref().is_some_and(|s| !matches!(s, "expiring" | "expired")) {
        return Err(AppError::invalid("state", "The state must be expiring or expired."));
    }
    let filter = expiry::ExpiringFilter { within_days, state: params.state, search: params.q };
    let data = expiry::expiring(&state.db, &token.workspace_id, chrono::Utc::now().date_naive(), &filter).await?;
    Ok(Json(app::verifications::Page { data, next_cursor: None }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct QuarterParams {
    /// `YYYY-Qn`, e.g. `2026-Q4`.
    quarter: Option<String>,
    /// `json` (default), `csv` or `pdf`.
    format: Option<String>,
}

/// The quarterly certification report: boxes opened and closed, records changed, IDs
/// expiring next quarter, and the blocking lists (IDs expired on open boxes, open boxes
/// without an approved record); `ready_to_certify` when both are empty.
#[utoipa::path(get, path = "/{flow}/compliance/quarterly", tag = "compliance",
    params(("flow" = String, Path, description = "`usps1583`"), QuarterParams),
    responses((status = 200, body = QuarterlyReport, description = "JSON, or CSV / PDF with `format`")))]
#[tracing::instrument(skip_all)]
async fn quarterly_report(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(flow): Path<String>,
    params: Result<Query<QuarterParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    token.require(Scope::VerificationsRead)?;
    usps1583(&flow)?;
    let Query(params) = params.map_err(|_| AppError::invalid("query", "The query string is malformed."))?;
    let quarter = quarterly::parse(params.quarter.as_deref())?;
    let format = output_format(params.format.as_deref(), true)?;
    let report = quarterly::report(&state.db, &token.workspace_id, quarter, chrono::Utc::now().date_naive()).await?;
    Ok(report_response(&report, format))
}

/// The report in `format` (`json`, `csv` or `pdf`): the REST API and the dashboard's downloads.
pub fn report_response(report: &QuarterlyReport, format: &str) -> Response {
    let name = format!("cmra-quarterly-{}", report.quarter);
    match format {
        "csv" => download("text/csv; charset=utf-8", &format!("{name}.csv"), quarterly::csv(report).into_bytes()),
        "pdf" => download("application/pdf", &format!("{name}.pdf"), quarterly::pdf(report)),
        _ => Json(report.clone()).into_response(),
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CertifyRequest {
    /// `YYYY-Qn`, a quarter that has ended.
    pub quarter: String,
}

/// Certifies an ended quarter whose blocking lists are empty: records who and when, once
/// (409 when already certified; nothing can change or remove it).
#[utoipa::path(post, path = "/{flow}/compliance/quarterly/certify", tag = "compliance",
    params(("flow" = String, Path, description = "`usps1583`")),
    request_body = CertifyRequest,
    responses((status = 201, body = Certification)))]
#[tracing::instrument(skip_all)]
async fn certify_quarter(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(flow): Path<String>,
    body: Result<JsonBody, AppError>,
) -> Result<(StatusCode, Json<Certification>), AppError> {
    token.require(Scope::DecisionsWrite)?;
    usps1583(&flow)?;
    let JsonBody(body) = body?;
    let quarter = quarterly::parse(body.get("quarter").and_then(|q| q.as_str()))?;
    let certification = quarterly::certify(&state.db, &token.workspace_id, quarter, chrono::Utc::now().date_naive(), &token.actor()).await?;
    Ok((StatusCode::CREATED, Json(certification)))
}

/// The CMRA's name and address, box 2 of every record (404 until set).
#[utoipa::path(get, path = "/{flow}/cmra", tag = "compliance",
    params(("flow" = String, Path, description = "`usps1583`")),
    responses((status = 200, body = CmraProfile)))]
#[tracing::instrument(skip_all)]
async fn get_cmra_profile(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(flow): Path<String>,
) -> Result<Json<CmraProfile>, AppError> {
    token.require(Scope::VerificationsRead)?;
    usps1583(&flow)?;
    Ok(Json(service::cmra_profile(&state.db, &token.workspace_id).await?.ok_or(AppError::NotFound)?))
}

/// Sets the CMRA's name and address (`{name, address}`).
#[utoipa::path(put, path = "/{flow}/cmra", tag = "compliance",
    params(("flow" = String, Path, description = "`usps1583`")),
    request_body = CmraProfile,
    responses((status = 200, body = CmraProfile)))]
#[tracing::instrument(skip_all)]
async fn set_cmra_profile(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(flow): Path<String>,
    body: Result<JsonBody, AppError>,
) -> Result<Json<CmraProfile>, AppError> {
    token.require(Scope::VerificationsWrite)?;
    usps1583(&flow)?;
    let JsonBody(body) = body?;
    Ok(Json(service::save_cmra_profile(&state.db, &token.workspace_id, &body, &token.actor()).await?))
}

/// The workspace's retention policy: documents and extracted personal data are kept
/// `retention_days` after the box closes, or after a rejection or a cancellation
/// (365 until set; `default` says so).
#[utoipa::path(get, path = "/retention-policy", tag = "compliance", responses((status = 200, body = RetentionPolicy)))]
#[tracing::instrument(skip_all)]
async fn get_retention_policy(State(state): State<AppState>, Extension(token): Extension<TokenIdentity>) -> Result<Json<RetentionPolicy>, AppError> {
    token.require(Scope::VerificationsRead)?;
    Ok(Json(retention::policy(&state.db, &token.workspace_id).await?))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RetentionRequest {
    /// 1 to 36500 days.
    pub retention_days: i64,
}

/// Sets the retention period (`{retention_days}`, 1 to 36500).
#[utoipa::path(put, path = "/retention-policy", tag = "compliance", request_body = RetentionRequest, responses((status = 200, body = RetentionPolicy)))]
#[tracing::instrument(skip_all)]
async fn set_retention_policy(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    body: Result<JsonBody, AppError>,
) -> Result<Json<RetentionPolicy>, AppError> {
    token.require(Scope::VerificationsWrite)?;
    let JsonBody(body) = body?;
    Ok(Json(retention::save_policy(&state.db, &token.workspace_id, &body, &token.actor()).await?))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct LegalHoldRequest {
    pub hold: bool,
    pub reason: Option<String>,
}

/// Places (`hold: true`) or releases a legal hold: while held, retention leaves the
/// verification alone and `…/redact` is refused (history and activity entries).
#[utoipa::path(post, path = "/{flow}/verifications/{id}/legal-hold", tag = "compliance",
    params(("flow" = String, Path), ("id" = String, Path)),
    request_body = LegalHoldRequest,
    responses((status = 200, body = Verification)))]
#[tracing::instrument(skip_all)]
async fn set_legal_hold(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
    body: Result<JsonBody, AppError>,
) -> Result<Json<Verification>, AppError> {
    token.require(Scope::VerificationsWrite)?;
    let flow = parse_flow(&flow)?;
    let JsonBody(body) = body?;
    Ok(Json(retention::set_legal_hold(&state.db, &token.workspace_id, flow, &id, &body, &token.actor()).await?))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RedactRequest {
    /// Why (required; kept in the history).
    pub reason: String,
}

/// Redacts an approved, rejected or canceled verification now, irreversibly: its
/// document files are deleted, its personal data replaced, the payloads of its webhook
/// events scrubbed; it keeps its id, status and dates and gets `redacted_at`
/// (`verification.redacted`). 409 under legal hold, once redacted, or while in progress.
#[utoipa::path(post, path = "/{flow}/verifications/{id}/redact", tag = "compliance",
    params(("flow" = String, Path), ("id" = String, Path)),
    request_body = RedactRequest,
    responses((status = 200, body = Verification), (status = 409, body = app::verifications::requests::ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn redact_verification(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
    body: Result<JsonBody, AppError>,
) -> Result<Json<Verification>, AppError> {
    token.require(Scope::VerificationsWrite)?;
    let flow = parse_flow(&flow)?;
    let JsonBody(body) = body?;
    Ok(Json(retention::redact(&state.db, &state.files, &token.workspace_id, flow, &id, &body, &token.actor()).await?))
}
