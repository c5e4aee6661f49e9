//! `/api/v1/{flow}/verifications/{id}/documents…`: multipart upload, read, download,
//! cancel, decide.

use super::{body::JsonBody, parse_flow};
use app::{
    access::tokens::TokenIdentity,
    documents::{
        service::{self, Part, Upload, MAX_FILE_BYTES},
        Document,
    },
    error::AppError,
    state::AppState,
    verifications::requests::{DecisionRequest, UploadDocument},
};
use axum::{
    extract::{multipart::MultipartRejection, Extension, Multipart, Path, Query, State},
    http::StatusCode,
    response::Response,
    Json,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_document, list_documents))
        .routes(routes!(get_document, delete_document))
        .routes(routes!(download_document))
        .routes(routes!(decide_document))
}

/// Reads one file part, stopping (and marking it too large) past 10 MB.
pub(crate) async fn read_file(mut field: axum::extract::multipart::Field<'_>) -> Result<Part, AppError> {
    let mut bytes = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                    while let Ok(Some(_)) = field.chunk().await {}
                    return Ok(Part::TooLarge);
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(AppError::PayloadTooLarge),
            Err(_) => return Err(AppError::BadRequest("The multipart body is malformed.".into())),
        }
    }
    Ok(if bytes.is_empty() { Part::Missing } else { Part::Bytes(bytes) })
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, AppError> {
    let mut upload = Upload { document_type: None, country: None, front: Part::Missing, back: Part::Missing };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(AppError::PayloadTooLarge),
            Err(_) => return Err(AppError::BadRequest("The multipart body is malformed.".into())),
        };
        match field.name().unwrap_or("") {
            "file" => upload.front = read_file(field).await?,
            "back" => upload.back = read_file(field).await?,
            name @ ("type" | "country") => {
                let name = name.to_string();
                let text = field.text().await.map_err(|_| AppError::BadRequest("The multipart body is malformed.".into()))?;
                let text = text.trim().to_string();
                if text.len() > 64 {
                    return Err(AppError::invalid(&name, format!("The {name} may not be greater than 64 characters.")));
                }
                let value = (!text.is_empty()).then_some(text);
                if name == "type" {
                    upload.document_type = value;
                } else {
                    upload.country = value;
                }
            }
            _ => {
                // Unknown parts are drained and ignored.
                let _ = read_file(field).await?;
            }
        }
    }
    Ok(upload)
}

/// Upload a document (front, and back when it has one) while `started`; while
/// `resubmission_requested`, only a requested role (409 otherwise), and the upload replaces
/// that role's current document (which becomes `canceled`).
#[utoipa::path(post, path = "/{flow}/verifications/{id}/documents", tag = "documents",
    params(("flow" = String, Path), ("id" = String, Path)),
    request_body(content = UploadDocument, content_type = "multipart/form-data"),
    responses((status = 201, body = Document),
        (status = 409, body = app::verifications::requests::ErrorBody, description = "A role that was not requested (`resubmission_requested`)")))]
#[tracing::instrument(skip_all)]
async fn upload_document(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Document>), AppError> {
    token.require(app::access::Scope::VerificationsWrite)?;
    let flow = parse_flow(&flow)?;
    let multipart = multipart.map_err(|_| AppError::UnsupportedMediaType("The request body must be multipart/form-data.".into()))?;
    let upload = read_upload(multipart).await?;
    let document = service::upload(&state.db, &state.files, &token.workspace_id, flow, &id, upload, &token.actor()).await?;
    Ok((StatusCode::CREATED, Json(document)))
}

/// The verification's documents, canceled ones included (kept for audit).
#[utoipa::path(get, path = "/{flow}/verifications/{id}/documents", tag = "documents",
    params(("flow" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = app::verifications::Page<Document>)))]
#[tracing::instrument(skip_all)]
async fn list_documents(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id)): Path<(String, String)>,
) -> Result<Json<app::verifications::Page<Document>>, AppError> {
    token.require(app::access::Scope::VerificationsRead)?;
    let flow = parse_flow(&flow)?;
    let data = service::list(&state.db, &token.workspace_id, flow, &id).await?;
    Ok(Json(app::verifications::Page { data, next_cursor: None }))
}

#[utoipa::path(get, path = "/{flow}/verifications/{id}/documents/{doc_id}", tag = "documents",
    params(("flow" = String, Path), ("id" = String, Path), ("doc_id" = String, Path, description = "`doc_…`")),
    responses((status = 200, body = Document)))]
#[tracing::instrument(skip_all)]
async fn get_document(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id, doc_id)): Path<(String, String, String)>,
) -> Result<Json<Document>, AppError> {
    token.require(app::access::Scope::VerificationsRead)?;
    let flow = parse_flow(&flow)?;
    Ok(Json(service::get(&state.db, &token.workspace_id, flow, &id, &doc_id).await?))
}

/// Cancel a document (kept for audit) and free its type, while `started`.
#[utoipa::path(delete, path = "/{flow}/verifications/{id}/documents/{doc_id}", tag = "documents",
    params(("flow" = String, Path), ("id" = String, Path), ("doc_id" = String, Path)),
    responses((status = 200, body = Document)))]
#[tracing::instrument(skip_all)]
async fn delete_document(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id, doc_id)): Path<(String, String, String)>,
) -> Result<Json<Document>, AppError> {
    token.require(app::access::Scope::VerificationsWrite)?;
    let flow = parse_flow(&flow)?;
    Ok(Json(service::cancel(&state.db, &token.workspace_id, flow, &id, &doc_id, &token.actor()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FileParams {
    /// `front` (default) or `back`.
    side: Option<String>,
}

/// The document's file, decrypted (scope `documents:read`).
#[utoipa::path(get, path = "/{flow}/verifications/{id}/documents/{doc_id}/file", tag = "documents",
    params(("flow" = String, Path), ("id" = String, Path), ("doc_id" = String, Path), FileParams),
    responses((status = 200, description = "The file, with the media type sniffed from its content at upload",
        content(("image/jpeg"), ("image/png"), ("image/webp"), ("image/heic"), ("application/pdf"), ("application/octet-stream")))))]
#[tracing::instrument(skip_all)]
async fn download_document(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id, doc_id)): Path<(String, String, String)>,
    params: Result<Query<FileParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    token.require(app::access::Scope::DocumentsRead)?;
    let Query(params) = params.map_err(|_| AppError::invalid("query", "The query string is malformed."))?;
    let flow = parse_flow(&flow)?;
    let side = params.side.as_deref().unwrap_or("front");
    let (media_type, bytes) = service::file(&state.db, &state.files, &token.workspace_id, flow, &id, &doc_id, side).await?;
    Ok(crate::document_files::document_response(&media_type, bytes))
}

/// A reviewer's decision on one document.
#[utoipa::path(post, path = "/{flow}/verifications/{id}/documents/{doc_id}/decision", tag = "documents",
    params(("flow" = String, Path), ("id" = String, Path), ("doc_id" = String, Path)),
    request_body = DecisionRequest,
    responses((status = 200, body = Document)))]
#[tracing::instrument(skip_all)]
async fn decide_document(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path((flow, id, doc_id)): Path<(String, String, String)>,
    body: Result<JsonBody, AppError>,
) -> Result<Json<Document>, AppError> {
    token.require(app::access::Scope::DecisionsWrite)?;
    let JsonBody(body) = body?;
    let flow = parse_flow(&flow)?;
    Ok(Json(
        service::decide(&state.db, &token.workspace_id, flow, &id, &doc_id, &app::verifications::requests::DecisionInput::from(&body), &token.actor()).await?,
    ))
}
