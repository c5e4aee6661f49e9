//! `/api/v1/{flow}/verifications…` and `/api/v1/{flow}/document-types`.

use super::{body::JsonBody, parse_flow};
use app::{
    access::tokens::TokenIdentity,
    error::AppError,
    flows::{self, FlowConfig},
    state::AppState,
    verifications::{
        requests::{CreateVerification, DecisionRequest, RequestDocument, UpdateVerification},
        service::{self, ListQuery},
        HistoryEntry, Page, Verification, VerificationStatus,
    },
};
use axum::{
    extract::{Extension, Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_verification, list_verifications))
        .routes(routes!(get_verification, update_verification))
        .routes(routes!(submit_verification))
        .routes(routes!(cancel_verification))
        .routes(routes!(decide_verification))
        .routes(routes!(request_document))
        .routes(routes!(verification_history))
        .routes(routes!(document_types))
}

/// Create a verification in `started`.
#[utoipa::path(post, path = "/{flow}/verifications", tag = "verifications",
    params(("flow" = String, Path, description = "`usps1583` or `identity`")),
    request_body = CreateVerification,
    responses((status = 201, body = Verification)))]
#[tracing::instrument(skip_all)]
async fn create_verification(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(flow): Path<String>,
    body: Result<JsonBody, AppError>,
) -> Result<(StatusCode, Json<Verification>), AppError> {
    token.require(app::access::Scope::VerificationsWrite)?;
    let JsonBody(body) = body?;
    let flow = parse_flow(&flow)?;
    let verification = service::create(&state.db, state.settings.environment, &token.workspace_id, flow, &body, &token.actor()).await?;
    Ok((StatusCode::CREATED, Json(verification)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// One of started, submitted, approved, rejected, needs_review, resubmission_requested, canceled.
    status: Option<String>,
    reference: Option<String>,
    /// Created on or after this date (YYYY-MM-DD) or time (RFC 3339).
    created_from: Option<String>,
    /// Created before this date (YYYY-MM-DD, exclusive: the day after) or time (RFC 3339).
    created_to: Option<String>,
    /// 1–100, default 20.
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Keeps the value, or moves a 422's field errors into `errors`.
fn take<T>(errors: &mut app::error::FieldErrors, result: Result<T, AppError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(AppError::Validation(e)) => {
            errors.extend(e);
            None
        }
        Err(_) => None,
    }
}

fn parse_list(params: ListParams) -> Result<ListQuery, AppError> {
    let mut errors = app::error::FieldErrors::new();
    let status = params
        .status
        .as_deref()
        .and_then(|s| take(&mut errors, s.parse::<VerificationStatus>().map_err(|_| AppError::invalid("status", "The selected status is invalid."))));
    let created_from = params.created_from.as_deref().and_then(|v| take(&mut errors, app::dates::instant("created_from", v, app::dates::Bound::Start)));
    let created_to = params.created_to.as_deref().and_then(|v| take(&mut errors, app::dates::instant("created_to", v, app::dates::Bound::End)));
    let limit = match params.limit.as_deref() {
        None => Some(20),
        Some(l) => take(
            &mut errors,
            l.parse::<i64>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| AppError::invalid("limit", "The limit must be an integer between 1 and 100.")),
        ),
    };
    let cursor = params.cursor.filter(|c| !c.is_empty());
    if cursor.as_ref().is_some_and(|c| !c.starts_with("ver_") || c.len() > 64) {
        errors.insert("cursor".into(), vec!["The cursor is invalid.".into()]);
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(ListQuery { status, reference: params.reference, created_from, created_to, limit: limit.unwrap_or(20), cursor, ..Default::default() })
}

/// List verifications, newest first, with cursor pagination.
#[utoipa::path(get, path = "/{flow}/verifications", tag = "verifications",
    params(("flow" = String, Path), ListParams),
    responses((status = 200, body = Page<Verification>)))]
#[tracing::instrument(skip_all)]
async fn list_verifications(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(flow): Path<String>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Verification>>, AppError> {
    token.require(app::access::Scope::VerificationsRead)?;
    let flow = parse_flow(&flow)?;
    let Query(params) = params.map_err(|_| AppError::invalid("query", "The query string is malformed."))?;
    let query = parse_list(params)?;
    Ok(Json(service::list(&state.db, &token.workspace_id, flow, &query).await?))
}

/// A verification with its documents, rule results, selfie score and decision.
#[utoipa::path(get, path = "/{flow}/verifications/{id}", tag = "verifications",
    params(("flow" = String, Path), ("id" = String, Path, description = "`ver_…`")),
    responses((status = 200, body = Verification)))]
#[tracing::instrument(skip_all)]
async fn get_verification(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
) -> Result<Json<Verification>, AppError> {
    token.require(app::access::Scope::VerificationsRead)?;
    let flow = parse_flow(&flow)?;
    Ok(Json(service::get(&state.db, &token.workspace_id, flow, &id).await?))
}

/// Update applicant data, reference or metadata (only while `started`).
#[utoipa::path(patch, path = "/{flow}/verifications/{id}", tag = "verifications",
    params(("flow" = String, Path), ("id" = String, Path)),
    request_body = UpdateVerification,
    responses((status = 200, body = Verification)))]
#[tracing::instrument(skip_all)]
async fn update_verification(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
    body: Result<JsonBody, AppError>,
) -> Result<Json<Verification>, AppError> {
    token.require(app::access::Scope::VerificationsWrite)?;
    let JsonBody(body) = body?;
    let flow = parse_flow(&flow)?;
    Ok(Json(service::update(&state.db, state.settings.environment, &token.workspace_id, flow, &id, &body, &token.actor()).await?))
}

/// Submit: `started` → `submitted`; the pipeline takes it from there. After a retake,
/// `resubmission_requested` → `submitted` once every requested role has its new
/// document (409 until then).
#[utoipa::path(post, path = "/{flow}/verifications/{id}/submit", tag = "verifications",
    params(("flow" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Verification),
        (status = 409, body = app::verifications::requests::ErrorBody, description = "A requested document is not uploaded yet")))]
#[tracing::instrument(skip_all)]
async fn submit_verification(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
) -> Result<Json<Verification>, AppError> {
    token.require(app::access::Scope::VerificationsWrite)?;
    let flow = parse_flow(&flow)?;
    Ok(Json(service::submit(&state.db, &token.workspace_id, flow, &id, &token.actor()).await?))
}

/// Cancel from `started`, `submitted` or `resubmission_requested`.
#[utoipa::path(post, path = "/{flow}/verifications/{id}/cancel", tag = "verifications",
    params(("flow" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Verification)))]
#[tracing::instrument(skip_all)]
async fn cancel_verification(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
) -> Result<Json<Verification>, AppError> {
    token.require(app::access::Scope::VerificationsWrite)?;
    let flow = parse_flow(&flow)?;
    Ok(Json(service::cancel(&state.db, &token.workspace_id, flow, &id, &token.actor()).await?))
}

/// Final decision on a verification in `needs_review`.
#[utoipa::path(post, path = "/{flow}/verifications/{id}/decision", tag = "verifications",
    params(("flow" = String, Path), ("id" = String, Path)),
    request_body = DecisionRequest,
    responses((status = 200, body = Verification)))]
#[tracing::instrument(skip_all)]
async fn decide_verification(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
    body: Result<JsonBody, AppError>,
) -> Result<Json<Verification>, AppError> {
    token.require(app::access::Scope::DecisionsWrite)?;
    let JsonBody(body) = body?;
    let flow = parse_flow(&flow)?;
    Ok(Json(service::decide(&state.db, &token.workspace_id, flow, &id, &app::verifications::requests::DecisionInput::from(&body), &token.actor()).await?))
}

/// Retake: ask for a new document of one role from a verification in `needs_review`.
/// It goes to `resubmission_requested` (event `verification.resubmission_requested`, with
/// `data.role` and `data.reason`); the next upload of that role replaces the current
/// document (which becomes `canceled`, kept in the history), and submit processes the
/// verification again. 409 unless `needs_review`; 422 on a role the flow does not use.
#[utoipa::path(post, path = "/{flow}/verifications/{id}/request-document", tag = "verifications",
    params(("flow" = String, Path), ("id" = String, Path)),
    request_body = RequestDocument,
    responses((status = 200, body = Verification),
        (status = 409, body = app::verifications::requests::ErrorBody, description = "Not in `needs_review`")))]
#[tracing::instrument(skip_all)]
async fn request_document(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
    body: Result<JsonBody, AppError>,
) -> Result<Json<Verification>, AppError> {
    token.require(app::access::Scope::DecisionsWrite)?;
    let JsonBody(body) = body?;
    let flow = parse_flow(&flow)?;
    let input = app::verifications::requests::DocumentRequestInput::from(&body);
    Ok(Json(service::request_document(&state.db, &token.workspace_id, flow, &id, &input, &token.actor()).await?))
}

/// The timeline: every status change, upload, extraction, rule result and decision.
#[utoipa::path(get, path = "/{flow}/verifications/{id}/history", tag = "verifications",
    params(("flow" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Page<HistoryEntry>)))]
#[tracing::instrument(skip_all)]
async fn verification_history(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
) -> Result<Json<Page<HistoryEntry>>, AppError> {
    token.require(app::access::Scope::VerificationsRead)?;
    let flow = parse_flow(&flow)?;
    Ok(Json(service::history(&state.db, &token.workspace_id, flow, &id).await?))
}

/// The flow's configuration and its accepted types, each with its role and whether a
/// machine reads it.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct DocumentTypes {
    #[serde(flatten)]
    config: FlowConfig,
    /// Every accepted type. `machine_readable: false` (tribal ID, uniformed service ID,
    /// US Access Card, university ID, Matrícula Consular, certificate of naturalization):
    /// accepted, checked by a reviewer; the verification goes to `needs_review`.
    types: Vec<flows::DocumentTypeInfo>,
}

/// The flow's configured document types and forbidden combinations.
#[utoipa::path(get, path = "/{flow}/document-types", tag = "configuration",
    params(("flow" = String, Path)),
    responses((status = 200, body = DocumentTypes)))]
#[tracing::instrument(skip_all)]
async fn document_types(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(flow): Path<String>,
) -> Result<Json<DocumentTypes>, AppError> {
    token.require(app::access::Scope::VerificationsRead)?;
    let flow = parse_flow(&flow)?;
    let config = flows::service::load(&state.db, &token.workspace_id, flow).await?;
    Ok(Json(DocumentTypes { types: config.type_infos(), config }))
}
