//! The applicant's side of a capture link (`/c/{token}/…`): the form posts of the page
//! (`app::capture::page`), each a thin adapter over `app::capture::service`, and the
//! per-link rate limit in front of the page and its posts.
//!
//! A plain form post is answered with a redirect back to the page (`?problem=<code>` when
//! the photo must be retaken); a script's post (`Accept: application/json`, the camera)
//! gets `{ "ok": …, "problem": …, "message": … }` instead.

use crate::api::{documents::read_file, ratelimit::RateLimiter};
use app::{
    capture::{
        service::{self, Refusal},
        Problem, Step,
    },
    documents::service::Part,
    error::AppError,
    state::AppState,
};
use axum::{
    extract::{multipart::MultipartRejection, Multipart, Path, Request, State},
    http::{header, HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    routing::post,
    Json, Router,
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/c/{token}/consent", post(consent)).route("/c/{token}/upload", post(upload)).route("/c/{token}/submit", post(submit))
}

/// Counts every request to `/c/{token}…` against that link's budget
/// ([`service::REQUESTS_PER_MINUTE`]), keyed by the token's hash, so unknown tokens are
/// limited too and nothing is looked up first.
pub async fn limit_per_link(State(limiter): State<RateLimiter>, request: Request, next: Next) -> Response {
    let Some(token) = request.uri().path().strip_prefix("/c/").map(|rest| rest.split('/').next().unwrap_or_default()) else {
        return next.run(request).await;
    };
    let key = format!("capture:{}", &service::hash_token(token)[..32]);
    let quota = limiter.check(&key, service::REQUESTS_PER_MINUTE).await;
    if !quota.allowed {
        metrics::counter!("attest_capture_rate_limited_total").increment(1);
        return AppError::RateLimited { retry_after_secs: quota.reset_secs }.into_response();
    }
    next.run(request).await
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
}

/// The answer to an applicant's post: back to the page, or JSON for the camera.
fn answer(token: &str, json: bool, result: Result<Option<String>, Refusal>) -> Response {
    let page = format!("/c/{token}");
    match (result, json) {
        (Ok(next), false) => Redirect::to(next.as_deref().unwrap_or(&page)).into_response(),
        (Ok(next), true) => Json(serde_json::json!({ "ok": true, "redirect": next })).into_response(),
        (Err(Refusal::Problem(problem)), false) => Redirect::to(&format!("{page}?problem={}", problem.code())).into_response(),
        (Err(Refusal::Problem(problem)), true) => {
            (StatusCode::UNPROCESSABLE_ENTITY, Json(serde_json::json!({ "ok": false, "problem": problem.code(), "message": problem.message() })))
                .into_response()
        }
        (Err(Refusal::LinkInvalid), false) => Redirect::to(&page).into_response(),
        (Err(Refusal::LinkInvalid), true) => {
            (StatusCode::GONE, Json(serde_json::json!({ "ok": false, "problem": "link_invalid", "message": "This link is no longer valid." }))).into_response()
        }
        (Err(Refusal::Error(e)), _) => e.into_response(),
    }
}

#[tracing::instrument(skip_all)]
async fn consent(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    let result = service::consent(&state.db, &token).await.map(|()| None);
    answer(&token, wants_json(&headers), result)
}

/// One photo of one step (`step`, `type` where the step offers a choice, `file`).
#[tracing::instrument(skip_all)]
async fn upload(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap, multipart: Result<Multipart, MultipartRejection>) -> Response {
    let json = wants_json(&headers);
    let Ok(multipart) = multipart else {
        return answer(&token, json, Err(Refusal::Problem(Problem::NoFile)));
    };
    let result = match read_form(multipart).await {
        Ok((Some(step), document_type, file)) => service::upload(&state, &token, step, document_type, file).await.map(|()| None),
        Ok((None, _, _)) => Err(Refusal::Problem(Problem::Refused)),
        Err(e) => Err(Refusal::Error(e)),
    };
    answer(&token, json, result)
}

async fn read_form(mut multipart: Multipart) -> Result<(Option<Step>, Option<String>, Part), AppError> {
    let (mut step, mut document_type, mut file) = (None, None, Part::Missing);
    let malformed = || AppError::BadRequest("The multipart body is malformed.".into());
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(AppError::PayloadTooLarge),
            Err(_) => return Err(malformed()),
        };
        match field.name().unwrap_or("") {
            "file" => file = read_file(field).await?,
            name @ ("step" | "type") => {
                let name = name.to_string();
                let text = field.text().await.map_err(|_| malformed())?;
                let text = text.trim();
                if text.len() > 64 {
                    return Err(malformed());
                }
                if name == "step" {
                    step = Step::parse(text);
                } else if !text.is_empty() {
                    document_type = Some(text.to_string());
                }
            }
            _ => {
                let _ = read_file(field).await?;
            }
        }
    }
    Ok((step, document_type, file))
}

#[tracing::instrument(skip_all)]
async fn submit(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    let result = service::submit(&state.db, &token).await;
    answer(&token, wants_json(&headers), result)
}
