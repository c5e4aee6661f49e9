//! `GET /w/{slug}/documents/{doc_id}/{side}`: a document image for the dashboard,
//! decrypted on the fly, only for members whose role has `documents.view`.

use app::{
    access::{member, Permission},
    auth::{service::ABSOLUTE_SESSION_MS, session_store::USER_KEY, SessionUser},
    documents::service as documents,
    error::AppError,
    state::AppState,
};
use attest_extract::Failure;
use axum::{
    extract::{Path, RawQuery, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tower_sessions::Session;

#[tracing::instrument(skip_all)]
pub async fn serve(
    State(state): State<AppState>,
    session: Session,
    Path((slug, document_id, side)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let member = session_member(&state, &session, &slug, Permission::DocumentsView).await?;
    let (mut media_type, mut bytes) = documents::file_in_workspace(&state.db, &state.files, &member.workspace_id, &document_id, &side).await?;
    if query.as_deref() == Some("preview") && media_type == "application/pdf" {
        (media_type, bytes) = ("image/png".to_string(), pdf_preview(bytes).await?);
    }
    Ok(document_response(&media_type, bytes))
}

/// The signed-in member of `slug` behind `session`, with `permission`: 401 signed out
/// (or past the absolute session limit), 403 otherwise. For the dashboard's plain routes.
pub async fn session_member(state: &AppState, session: &Session, slug: &str, permission: Permission) -> Result<member::Member, AppError> {
    let user = session
        .get::<SessionUser>(USER_KEY)
        .await
        .map_err(|e| AppError::internal("reading session", e))?
        .filter(|u| app::store::now_ms() - u.signed_in_at <= ABSOLUTE_SESSION_MS)
        .ok_or(AppError::Unauthenticated)?;
    member::require_for(&state.db, user, slug, permission).await
}

/// A decrypted document as a response (dashboard viewer and REST download alike): its
/// sniffed type, never cached, never sniffed again, and `Content-Security-Policy:
/// sandbox`, so a file opened on its own can never run as a page of ours.
pub fn document_response(media_type: &str, bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    response
}

/// Preview renders running at once. Each is a `pdftoppm` child process (one core, up to
/// [`attest_extract::tools::Limits::DOCUMENT`] of memory and time), so without a cap a
/// few reviewers — or one script with a stolen session — clicking through PDFs could
/// keep every core busy and stall the pipeline and the API.
pub const PREVIEW_RENDERS: usize = 2;
/// How long a preview queues for a free render slot. A letter page renders in ~0.1 s, so
/// a short burst is absorbed by the queue; past this wait the answer is
/// `429 Too Many Requests` with `Retry-After: 2` (the viewer shows the image again on
/// the next load). Queueing longer would only pile up open connections.
pub const PREVIEW_QUEUE_WAIT: Duration = Duration::from_secs(3);
static PREVIEWS: Semaphore = Semaphore::const_new(PREVIEW_RENDERS);

/// A render slot from `slots`, waiting at most `wait`; none free in time is a 429.
async fn render_slot(slots: &'static Semaphore, wait: Duration) -> Result<SemaphorePermit<'static>, AppError> {
    match tokio::time::timeout(wait, slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AppError::RateLimited { retry_after_secs: 2 }),
    }
}

/// The first page of a PDF as a PNG (poppler, at screen resolution), for the viewer,
/// rendered under the [`PREVIEW_RENDERS`] cap. The slot is held by the render itself,
/// so a client that hangs up does not free it while poppler is still running.
async fn pdf_preview(pdf: Vec<u8>) -> Result<Vec<u8>, AppError> {
    let slot = render_slot(&PREVIEWS, PREVIEW_QUEUE_WAIT).await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let page = match attest_extract::intake::rasterize_pdf(&pdf, 100, 1) {
            Ok(pages) => pages.into_iter().next().ok_or_else(|| AppError::internal("pdf preview", "the PDF has no page poppler can render"))?,
            Err(Failure::ImageTooLarge) => {
                return Err(AppError::BadRequest("This PDF's first page is too large to preview; download the file to view it.".into()))
            }
            Err(e) => return Err(AppError::internal("pdf preview", e)),
        };
        let mut png = std::io::Cursor::new(Vec::new());
        page.write_to(&mut png, attest_extract::image::ImageFormat::Png).map_err(|e| AppError::internal("pdf preview", e))?;
        Ok(png.into_inner())
    })
    .await
    .map_err(|e| AppError::internal("pdf preview", e))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of previews (many tabs, or a script) cannot run more renders at once
    /// than there are slots: the excess waits briefly, then is told to come back.
    #[tokio::test]
    async fn a_preview_flood_is_capped_and_answered_429() {
        let slots: &'static Semaphore = Box::leak(Box::new(Semaphore::new(2)));
        let wait = Duration::from_millis(100);
        let first = render_slot(slots, wait).await.unwrap();
        let _second = render_slot(slots, wait).await.unwrap();
        let started = std::time::Instant::now();
        let refused = render_slot(slots, wait).await.expect_err("a third render at once is refused");
        assert!(started.elapsed() >= wait, "it queued first");
        assert!(matches!(refused, AppError::RateLimited { retry_after_secs: 2 }));
        assert_eq!(refused.status_code(), 429);
        // A slot freed while queued is taken.
        let queued = tokio::spawn(render_slot(slots, Duration::from_secs(5)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        assert!(queued.await.unwrap().is_ok());
    }
}
