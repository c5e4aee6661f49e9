//! The public REST API, `/api/v1`. Every route authenticates its bearer token first, so
//! an unauthenticated caller learns nothing (401) and an unknown path is a JSON 404.

use app::{access::tokens, error::AppError, state::AppState};
use axum::{
    extract::State,
    http::{header, HeaderMap},
    Router,
};

pub fn router() -> Router<AppState> {
    Router::new().fallback(not_found)
}

/// The token behind `Authorization: Bearer …`, or 401.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<tokens::TokenIdentity, AppError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(AppError::Unauthenticated)?;
    tokens::authenticate(&state.db, bearer).await
}

#[tracing::instrument(skip_all)]
async fn not_found(State(state): State<AppState>, headers: HeaderMap) -> AppError {
    match authenticate(&state, &headers).await {
        Ok(_) => AppError::NotFound,
        Err(e) => e,
    }
}
