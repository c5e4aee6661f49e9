//! `/api/v1/{flow}/verifications/{id}/capture-links…`: links that let the applicant
//! upload their own documents (`/c/{token}`).

use super::{body::JsonBody, parse_flow};
use app::{
    access::tokens::TokenIdentity,
    capture::{service, CaptureLink, CreateCaptureLink, CreatedCaptureLink},
    error::AppError,
    state::AppState,
    verifications::Page,
};
use axum::{
    extract::{Extension, Path, Request, State},
    http::{header, StatusCode},
    Json,
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_capture_link, list_capture_links)).routes(routes!(revoke_capture_link))
}

/// Create a link for the applicant (while `started`). The `url` is shown only here.
#[utoipa::path(post, path = "/{flow}/verifications/{id}/capture-links", tag = "capture links",
    params(("flow" = String, Path), ("id" = String, Path, description = "`ver_…`")),
    request_body(content = Option<CreateCaptureLink>, description = "Optional"),
    responses((status = 201, body = CreatedCaptureLink)))]
#[tracing::instrument(skip_all)]
async fn create_capture_link(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
    request: Request,
) -> Result<(StatusCode, Json<CreatedCaptureLink>), AppError> {
    token.require(app::access::Scope::VerificationsWrite)?;
    let flow = parse_flow(&flow)?;
    // The body is optional: none at all means the defaults.
    let empty = request.headers().get(header::CONTENT_LENGTH).is_some_and(|v| v == "0")
        || (request.headers().get(header::CONTENT_TYPE).is_none() && request.headers().get(header::TRANSFER_ENCODING).is_none());
    let input = if empty {
        CreateCaptureLink::default()
    } else {
        let JsonBody(body) = <JsonBody as axum::extract::FromRequest<()>>::from_request(request, &()).await?;
        CreateCaptureLink::from_json(&body)?
    };
    let created = service::create(&state.db, &state.settings.public_url, &token.workspace_id, flow, &id, &input, &token.actor()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The verification's links, newest first (never their tokens).
#[utoipa::path(get, path = "/{flow}/verifications/{id}/capture-links", tag = "capture links",
    params(("flow" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Page<CaptureLink>)))]
#[tracing::instrument(skip_all)]
async fn list_capture_links(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
) -> Result<Json<Page<CaptureLink>>, AppError> {
    token.require(app::access::Scope::VerificationsRead)?;
    let flow = parse_flow(&flow)?;
    let data = service::list(&state.db, &token.workspace_id, flow, &id).await?;
    Ok(Json(Page { data, next_cursor: None }))
}

/// Revoke a link: the applicant's page then says it is no longer valid.
#[utoipa::path(delete, path = "/{flow}/verifications/{id}/capture-links/{link_id}", tag = "capture links",
    params(("flow" = String, Path), ("id" = String, Path), ("link_id" = String, Path, description = "`cap_…`")),
    responses((status = 204, description = "Revoked")))]
#[tracing::instrument(skip_all)]
async fn revoke_capture_link(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id, link_id)): Path<(String, String, String)>,
) -> Result<StatusCode, AppError> {
    token.require(app::access::Scope::VerificationsWrite)?;
    let flow = parse_flow(&flow)?;
    service::revoke(&state.db, &state.files, &token.workspace_id, flow, &id, &link_id, &token.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
