//! Request bodies that never answer with a 500 or an HTML page: wrong content types,
//! malformed JSON and oversized bodies become the JSON errors of [`AppError`].

use app::error::AppError;
use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::header,
};
use serde_json::Value;

/// Largest JSON body accepted (uploads have their own limit).
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// A JSON object body.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
            .unwrap_or(false);
        if !is_json {
            return Err(AppError::UnsupportedMediaType("The request body must be JSON (Content-Type: application/json).".into()));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|_| AppError::PayloadTooLarge)?;
        if bytes.len() > MAX_JSON_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| AppError::BadRequest("The request body is not valid JSON.".into()))?;
        if !value.is_object() {
            return Err(AppError::BadRequest("The request body must be a JSON object.".into()));
        }
        Ok(JsonBody(value))
    }
}
