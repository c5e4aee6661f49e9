//! `GET /w/{slug}/documents/{doc_id}/{side}`: a document image for the dashboard,
//! decrypted on the fly, only for members whose role has `documents.view`.

use app::{
    access::{member, Permission},
    auth::{service::ABSOLUTE_SESSION_MS, session_store::USER_KEY, SessionUser},
    documents::service as documents,
    error::AppError,
    state::AppState,
};
use axum::{
    extract::{Path, RawQuery, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use tower_sessions::Session;

#[tracing::instrument(skip_all)]
pub async fn serve(
    State(state): State<AppState>,
    session: Session,
    Path((slug, document_id, side)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let user = session
        .get::<SessionUser>(USER_KEY)
        .await
        .map_err(|e| AppError::internal("reading session", e))?
        .filter(|u| app::store::now_ms() - u.signed_in_at <= ABSOLUTE_SESSION_MS)
        .ok_or(AppError::Unauthenticated)?;
    let member = member::require_for(&state.db, user, &slug, Permission::DocumentsView).await?;
    let (mut media_type, mut bytes) = documents::file_in_workspace(&state.db, &state.files, &member.workspace_id, &document_id, &side).await?;
    if query.as_deref() == Some("preview") && media_type == "application/pdf" {
        (media_type, bytes) = ("image/png".to_string(), pdf_preview(bytes).await?);
    }
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    Ok(response)
}

/// The first page of a PDF as a PNG (poppler, at screen resolution), for the viewer.
async fn pdf_preview(pdf: Vec<u8>) -> Result<Vec<u8>, AppError> {
    tokio::task::spawn_blocking(move || {
        let page = attest_extract::intake::rasterize_pdf(&pdf, 100, 1)
            .ok()
            .and_then(|pages| pages.into_iter().next())
            .ok_or_else(|| AppError::internal("pdf preview", "the PDF has no page poppler can render"))?;
        let mut png = std::io::Cursor::new(Vec::new());
        page.write_to(&mut png, attest_extract::image::ImageFormat::Png).map_err(|e| AppError::internal("pdf preview", e))?;
        Ok(png.into_inner())
    })
    .await
    .map_err(|e| AppError::internal("pdf preview", e))?
}
