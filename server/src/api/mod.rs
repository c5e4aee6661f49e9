//! The public REST API, `/api/v1` (SPEC §3). Every request is authenticated by its
//! bearer token and counted against its workspace's rate limit before any handler
//! runs ([`guard`]); POSTs with an `Idempotency-Key` replay their first response
//! ([`idempotency`]). Routes and the OpenAPI document are built together, so a route
//! cannot exist without its documentation.

mod body;
mod capture;
pub mod compliance;
pub(crate) mod documents;
mod guard;
mod idempotency;
pub mod openapi;
pub mod ratelimit;
mod verifications;
mod webhooks;

use app::{error::AppError, flows::Flow, state::AppState};
use axum::{middleware, Router};
use utoipa_axum::router::OpenApiRouter;

pub use guard::authenticate;
pub use idempotency::{delete_expired as delete_expired_idempotency_keys, ABANDONED_AFTER_MS as IDEMPOTENCY_ABANDONED_AFTER_MS};

/// The flow named in the path: unknown flows are 404, like any unknown path.
pub fn parse_flow(path: &str) -> Result<Flow, AppError> {
    path.parse().map_err(|_| AppError::NotFound)
}

/// The routes with their OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(verifications::routes())
        .merge(documents::routes())
        .merge(webhooks::routes())
        .merge(compliance::routes())
        .merge(capture::routes())
}

/// The routes and their finished OpenAPI document ([`openapi::finish`]).
pub fn split() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = routes().split_for_parts();
    openapi::finish(&mut doc);
    (router, doc)
}

pub fn router(state: AppState, limiter: ratelimit::RateLimiter) -> Router<AppState> {
    let (router, doc) = split();
    let doc = std::sync::Arc::new(doc);
    router
        .route("/openapi.json", axum::routing::get(move || openapi::serve(doc.clone())))
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), idempotency::replay_or_record))
        .layer(middleware::from_fn_with_state((state, limiter), guard::authenticate_and_limit))
}
