//! The one error type of Attest.
//!
//! Client errors carry the exact user-facing message (SPEC §3); unexpected failures are
//! logged with their cause where they happen and reach the client as an opaque
//! [`AppError::Internal`]. The same type is returned by server functions (serialized to
//! the dashboard) and by REST handlers (rendered by its `IntoResponse`).

use serde::{Deserialize, Serialize};
use server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use std::collections::BTreeMap;

/// Field path → human messages, as in the API's 422 `errors` object.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum AppError {
    #[error("Unauthenticated.")]
    Unauthenticated,
    #[error("This action is unauthorized.")]
    Forbidden,
    /// A 403 whose reason the user needs (an account another workspace protects, a token
    /// scope beyond the creator's role); the message is shown verbatim.
    #[error("{0}")]
    Refused(String),
    #[error("Not found.")]
    NotFound,
    #[error("The given data was invalid.")]
    Validation(FieldErrors),
    /// A business rule refused the request; the message is shown verbatim.
    #[error("{0}")]
    BadRequest(String),
    /// A unique value is already taken (slug, email…); the message names it.
    #[error("{0}")]
    Conflict(String),
    /// Same message for an unknown email and a wrong password.
    #[error("Invalid email or password.")]
    InvalidCredentials,
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Method Not Allowed.")]
    MethodNotAllowed,
    #[error("Too Many Requests.")]
    RateLimited { retry_after_secs: u64 },
    /// Sign-in refused while the email is locked; `until` is RFC 3339 UTC.
    #[error(
        "This account is locked after too many failed sign-ins. Try again after {} UTC, or ask an administrator to unlock it.",
        crate::dates::to_minute(until)
    )]
    Locked { until: String },
    #[error("Too many sign-in attempts from your network. Try again in {retry_after_secs} seconds.")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Every password-hashing slot is taken and the queue is full (a sign-in flood).
    #[error("The server is busy. Try again in a moment.")]
    Busy { retry_after_secs: u64 },
    /// Too many wrong second-factor codes across sign-ins: only an admin (or
    /// `attest admin unlock`) lifts this.
    #[error("Your second factor is locked after too many wrong codes. Ask an administrator to unlock your account.")]
    MfaLocked,
    /// No live MFA challenge: it expired, was used up, or the sign-in was interrupted.
    #[error("Your sign-in code has expired or this sign-in was interrupted. Log in again to receive a new code.")]
    MfaExpired,
    #[error("That code is not right. Check it and try again.")]
    WrongCode,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// Transport-level failure of a server function call (network, decoding).
    #[error("The server could not be reached: {0}")]
    Transport(String),
}

impl AppError {
    /// A 422 with a single field message.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_string(), vec![message.into()]);
        AppError::Validation(errors)
    }

    /// Logs an unexpected failure with its cause and returns the opaque error.
    #[cfg(feature = "ssr")]
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        AppError::Internal
    }

    /// The sentence shown under a form: a validation error's own field messages rather
    /// than its generic summary.
    pub fn message(&self) -> String {
        match self {
            AppError::Validation(fields) => fields.values().flatten().cloned().collect::<Vec<_>>().join(" "),
            other => other.to_string(),
        }
    }

    /// Seconds a refused client should wait (`Retry-After`), for the errors that say so.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after_secs } | AppError::TooManyAttempts { retry_after_secs } | AppError::Busy { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unauthenticated | AppError::InvalidCredentials => 401,
            AppError::Forbidden | AppError::Refused(_) => 403,
            AppError::NotFound => 404,
            AppError::Conflict(_) => 409,
            AppError::PayloadTooLarge => 413,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::MethodNotAllowed => 405,
            AppError::Validation(_) => 422,
            AppError::BadRequest(_) => 400,
            AppError::RateLimited { .. } | AppError::TooManyAttempts { .. } | AppError::Busy { .. } => 429,
            AppError::Locked { .. } | AppError::MfaLocked => 423,
            AppError::MfaExpired => 410,
            AppError::WrongCode => 401,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(e) | ServerFnErrorErr::Response(e) => AppError::Transport(e),
            other => AppError::Transport(other.to_string()),
        }
    }
}

/// Every server function returns through this, so a failed call is answered with its
/// real status (401, 403, 422…) instead of server_fn's blanket 500.
///
/// Plain form posts (the dashboard's pages are server-rendered, see [`crate::forms`]) are
/// redirected back to the page they came from, with the outcome in the address (see
/// [`crate::forms::back_to_page`]). A function that chose its own redirect (sign-in,
/// sign-out) keeps it.
#[cfg(feature = "ssr")]
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    use leptos::prelude::use_context;
    let Some(options) = use_context::<leptos_axum::ResponseOptions>() else { return result };
    let parts = use_context::<http::request::Parts>();
    // A page rendering on the server calls server functions too (GET, HTML accepted):
    // only a POST is a form's call.
    let plain_form_post = parts.as_ref().is_some_and(|parts| {
        parts.method == http::Method::POST && parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
    });
    if !plain_form_post {
        if let Err(error) = &result {
            options.set_status(http::StatusCode::from_u16(error.status_code()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
            if let Some(secs) = error.retry_after_secs() {
                options.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
            }
        }
        return result;
    }
    let redirected = options.0.read().map(|p| p.headers.contains_key(http::header::LOCATION)).unwrap_or(false);
    let referer = parts.as_ref().and_then(|p| p.headers.get(http::header::REFERER)).and_then(|v| v.to_str().ok());
    if let (Some(parts), Some(referer), false) = (&parts, referer, redirected && result.is_ok()) {
        let location = crate::forms::back_to_page(referer, parts.uri.path(), result.as_ref().err());
        if let Ok(location) = http::HeaderValue::from_str(&location) {
            options.insert_header(http::header::LOCATION, location);
            options.set_status(http::StatusCode::SEE_OTHER);
        }
    }
    result
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    /// Uniqueness rules people can meet are answered where their context is known (see
    /// `store::constraint`); one that reaches here is still a conflict, not a crash.
    fn from(err: sqlx::Error) -> Self {
        use crate::store::Unique;
        match crate::store::unique_violation(&err) {
            Some(Unique::WorkspaceSlug) => AppError::Conflict("This slug is already taken.".into()),
            Some(Unique::UserEmail) => AppError::Conflict("Another account already uses this e-mail address.".into()),
            Some(Unique::RoleName) => AppError::invalid("name", "A role with this name already exists."),
            Some(Unique::PrimaryKey | Unique::Other) => {
                tracing::warn!(error = %err, "a write conflicted with stored data");
                AppError::Conflict("This conflicts with a change made at the same time; try again.".into())
            }
            None => AppError::internal("database error", err),
        }
    }
}

#[cfg(feature = "ssr")]
mod response {
    use super::AppError;
    use axum::{
        http::{header, HeaderValue, StatusCode},
        response::{IntoResponse, Response},
        Json,
    };

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status = StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = match &self {
                AppError::Validation(errors) => serde_json::json!({
                    "message": self.to_string(),
                    "errors": errors,
                }),
                _ => serde_json::json!({ "message": self.to_string() }),
            };
            let mut response = (status, Json(body)).into_response();
            let headers = response.headers_mut();
            match self {
                AppError::Unauthenticated | AppError::InvalidCredentials => {
                    headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                other => {
                    if let Some(secs) = other.retry_after_secs() {
                        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
                    }
                }
            }
            response
        }
    }
}
