//! `Idempotency-Key` on POST: the first response to a key is stored; a retry with the
//! same key and the same request gets that response again (`Idempotent-Replayed:
//! true`), a different request with the same key is refused (422).

use app::{access::tokens::TokenIdentity, error::AppError, state::AppState, store::now_ms};
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// Uploads are the largest requests: two files of 10 MB and their multipart framing.
const MAX_REQUEST_BYTES: usize = 21 * 1024 * 1024 + 64 * 1024;
/// Responses larger than this are not stored (none of the POST responses come close).
const MAX_STORED_RESPONSE: usize = 1024 * 1024;

pub async fn replay_or_record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let key = request.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (Some(key), true) = (key, request.method() == Method::POST) else {
        return next.run(request).await;
    };
    let Some(identity) = request.extensions().get::<TokenIdentity>().cloned() else {
        return next.run(request).await;
    };
    if key.is_empty() || key.len() > 255 {
        return AppError::invalid("Idempotency-Key", "The Idempotency-Key may not be empty or greater than 255 characters.").into_response();
    }

    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_REQUEST_BYTES).await else {
        return AppError::PayloadTooLarge.into_response();
    };
    let mut hasher = Sha256::new();
    // Keys are per workspace; the token is part of the request, so one token can never
    // be handed the stored response of another (whose scopes may be wider).
    hasher.update(identity.token_id.as_bytes());
    hasher.update(b"\n");
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());

    let inserted = sqlx::query("INSERT INTO idempotency_keys (workspace_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&identity.workspace_id)
        .bind(&key)
        .bind(&request_hash)
        .bind(now_ms())
        .execute(state.db.pool())
        .await;
    match inserted {
        Ok(_) => {}
        Err(e) if app::store::is_unique_violation(&e) => return replay(&state, &identity.workspace_id, &key, &request_hash).await,
        Err(e) => return AppError::from(e).into_response(),
    }

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(bytes) => bytes,
        Err(e) => return AppError::internal("buffering an idempotent response", e).into_response(),
    };
    let stored = if parts.status.is_server_error() {
        // A failure on our side may succeed on retry: forget the key.
        sqlx::query("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2")
            .bind(&identity.workspace_id)
            .bind(&key)
            .execute(state.db.pool())
            .await
    } else {
        sqlx::query("UPDATE idempotency_keys SET response_status = $1, response_body = $2 WHERE workspace_id = $3 AND key = $4")
            .bind(parts.status.as_u16() as i64)
            .bind(String::from_utf8_lossy(&bytes).to_string())
            .bind(&identity.workspace_id)
            .bind(&key)
            .execute(state.db.pool())
            .await
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "storing an idempotent response failed");
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn replay(state: &AppState, workspace_id: &str, key: &str, request_hash: &str) -> Response {
    let row = sqlx::query("SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE workspace_id = $1 AND key = $2")
        .bind(workspace_id)
        .bind(key)
        .fetch_optional(state.db.pool())
        .await;
    let row = match row {
        Ok(Some(row)) => row,
        Ok(None) => return AppError::Conflict("A request with this Idempotency-Key is still being processed.".into()).into_response(),
        Err(e) => return AppError::from(e).into_response(),
    };
    let stored_hash: String = row.try_get("request_hash").unwrap_or_default();
    if stored_hash != request_hash {
        return AppError::invalid("Idempotency-Key", "This Idempotency-Key was already used with a different request.").into_response();
    }
    let status: Option<i64> = row.try_get("response_status").unwrap_or(None);
    let body: Option<String> = row.try_get("response_body").unwrap_or(None);
    match (status, body) {
        (Some(status), Some(body)) => {
            let mut response = (StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK), body).into_response();
            let headers = response.headers_mut();
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        _ => AppError::Conflict("A request with this Idempotency-Key is still being processed.".into()).into_response(),
    }
}
