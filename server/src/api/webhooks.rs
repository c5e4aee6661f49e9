//! `/api/v1/webhook-endpoints…` and `/api/v1/webhook-deliveries/{id}/resend` (SPEC §6),
//! scope `webhooks:manage`. Only the create response carries the signing secret.

use super::body::JsonBody;
use app::{
    access::tokens::TokenIdentity,
    error::AppError,
    state::AppState,
    verifications::Page,
    webhooks::{
        service::{self, DeliveryFilter, EndpointInput},
        Delivery, EndpointWithSecret, WebhookEndpoint,
    },
};
use axum::{
    extract::{Extension, Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

const SCOPE: app::access::Scope = app::access::Scope::WebhooksManage;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_endpoint_secret))
        .routes(routes!(send_test_event))
        .routes(routes!(list_deliveries))
        .routes(routes!(resend_delivery))
}

/// Body of create and update.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct EndpointRequest {
    /// `https://…` (production); `http://` and loopback too in sandbox.
    pub url: Option<String>,
    pub description: Option<String>,
    /// Event types; empty or missing for all.
    pub event_types: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// A rotated secret, shown once. The previous one keeps signing for 24 hours.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub secret: String,
}

/// Create an endpoint; the response is the only one with its `secret`.
#[utoipa::path(post, path = "/webhook-endpoints", tag = "webhooks", request_body = EndpointRequest,
    responses((status = 201, body = EndpointWithSecret)))]
#[tracing::instrument(skip_all)]
async fn create_endpoint(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    body: Result<JsonBody, AppError>,
) -> Result<(StatusCode, Json<EndpointWithSecret>), AppError> {
    token.require(SCOPE)?;
    let JsonBody(body) = body?;
    let input = EndpointInput::from_json(&body)?;
    let created = service::create(&state.db, &state.files.master, state.settings.environment, &token.workspace_id, input, &token.actor()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/webhook-endpoints", tag = "webhooks", responses((status = 200, body = Page<WebhookEndpoint>)))]
#[tracing::instrument(skip_all)]
async fn list_endpoints(State(state): State<AppState>, Extension(token): Extension<TokenIdentity>) -> Result<Json<Page<WebhookEndpoint>>, AppError> {
    token.require(SCOPE)?;
    Ok(Json(Page { data: service::list(&state.db, &token.workspace_id).await?, next_cursor: None }))
}

#[utoipa::path(get, path = "/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path, description = "`we_…`")),
    responses((status = 200, body = WebhookEndpoint)))]
#[tracing::instrument(skip_all)]
async fn get_endpoint(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(id): Path<String>,
) -> Result<Json<WebhookEndpoint>, AppError> {
    token.require(SCOPE)?;
    Ok(Json(service::get(&state.db, &token.workspace_id, &id).await?))
}

/// Change the URL, description, event types or active flag.
#[utoipa::path(patch, path = "/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)), request_body = EndpointRequest,
    responses((status = 200, body = WebhookEndpoint)))]
#[tracing::instrument(skip_all)]
async fn update_endpoint(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(id): Path<String>,
    body: Result<JsonBody, AppError>,
) -> Result<Json<WebhookEndpoint>, AppError> {
    token.require(SCOPE)?;
    let JsonBody(body) = body?;
    let input = EndpointInput::from_json(&body)?;
    Ok(Json(service::update(&state.db, state.settings.environment, &token.workspace_id, &id, input, &token.actor()).await?))
}

#[utoipa::path(delete, path = "/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
#[tracing::instrument(skip_all)]
async fn delete_endpoint(State(state): State<AppState>, Extension(token): Extension<TokenIdentity>, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    token.require(SCOPE)?;
    service::delete(&state.db, &token.workspace_id, &id, &token.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = RotatedSecret)))]
#[tracing::instrument(skip_all)]
async fn rotate_endpoint_secret(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, AppError> {
    token.require(SCOPE)?;
    Ok(Json(RotatedSecret { secret: service::rotate_secret(&state.db, &state.files.master, &token.workspace_id, &id, &token.actor()).await? }))
}

#[utoipa::path(post, path = "/webhook-endpoints/{id}/test", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 202, description = "A webhook.test event is on its way")))]
#[tracing::instrument(skip_all)]
async fn send_test_event(State(state): State<AppState>, Extension(token): Extension<TokenIdentity>, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    token.require(SCOPE)?;
    service::send_test(&state.db, &token.workspace_id, &id, &token.actor()).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryParams {
    event_type: Option<String>,
    /// `pending`, `succeeded`, `failed` or `canceled`.
    status: Option<String>,
    /// 1–200, default 50.
    limit: Option<i64>,
}

/// The endpoint's deliveries, newest first, each with every attempt.
#[utoipa::path(get, path = "/webhook-endpoints/{id}/deliveries", tag = "webhooks", params(("id" = String, Path), DeliveryParams),
    responses((status = 200, body = Page<Delivery>)))]
#[tracing::instrument(skip_all)]
async fn list_deliveries(
    State(state): State<AppState>,
    Extension(token): Extension<TokenIdentity>,
    Path(id): Path<String>,
    params: Result<Query<DeliveryParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Delivery>>, AppError> {
    token.require(SCOPE)?;
    let Query(params) = params.map_err(|_| AppError::invalid("query", "The query string is malformed."))?;
    service::get(&state.db, &token.workspace_id, &id).await?;
    let filter = DeliveryFilter { endpoint_id: Some(id), event_type: params.event_type, status: params.status, limit: params.limit.unwrap_or(50) };
    let mut data = service::deliveries(&state.db, &token.workspace_id, &filter).await?;
    if token.require(app::access::Scope::DocumentsRead).is_err() {
        data.iter_mut().for_each(Delivery::hide_payload);
    }
    Ok(Json(Page { data, next_cursor: None }))
}

/// Send the delivery's event again: same `webhook-id`, fresh timestamp and signature.
#[utoipa::path(post, path = "/webhook-deliveries/{id}/resend", tag = "webhooks", params(("id" = String, Path, description = "`msg_…`")),
    responses((status = 202, description = "Queued")))]
#[tracing::instrument(skip_all)]
async fn resend_delivery(State(state): State<AppState>, Extension(token): Extension<TokenIdentity>, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    token.require(SCOPE)?;
    service::resend(&state.db, &token.workspace_id, &id, &token.actor()).await?;
    Ok(StatusCode::ACCEPTED)
}
