//! Authentication and rate limiting in front of every API route.

use super::ratelimit::RateLimiter;
use app::{access::tokens, error::AppError, state::AppState};
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The token behind `Authorization: Bearer …`, or 401. The scheme name is
/// case-insensitive (RFC 7235 §2.1): `bearer …` and `BEARER …` are the same.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<tokens::TokenIdentity, AppError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(AppError::Unauthenticated)?;
    tokens::authenticate(&state.db, bearer).await
}

/// 401 for a missing, unknown, expired or revoked token; 429 past the workspace's
/// budget. The identity is handed to handlers as a request extension.
pub async fn authenticate_and_limit(State((state, limiter)): State<(AppState, RateLimiter)>, mut request: Request, next: Next) -> Response {
    if request.uri().path().ends_with("/openapi.json") {
        return next.run(request).await;
    }
    let identity = match authenticate(&state, request.headers()).await {
        Ok(identity) => identity,
        Err(e) => return e.into_response(),
    };
    let quota = limiter.check(&identity.workspace_id, identity.rate_limit_per_minute.max(0) as u64).await;
    if !quota.allowed {
        // Bounded: one series per workspace (tenant), never per token or client.
        metrics::counter!("attest_rate_limited_total", "workspace" => identity.workspace_id.clone()).increment(1);
        let mut response = AppError::RateLimited { retry_after_secs: quota.reset_secs }.into_response();
        quota.write_headers(response.headers_mut());
        return response;
    }
    if identity.last_used_at.is_none_or(|last| app::store::now_ms() - last >= 60_000) {
        let db = state.db.clone();
        let identity = identity.clone();
        tokio::spawn(async move { tokens::touch_last_used(&db, &identity).await });
    }
    request.extensions_mut().insert(identity);
    let mut response = next.run(request).await;
    quota.write_headers(response.headers_mut());
    response
}
