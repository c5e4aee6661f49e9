//! Request guards shared by every dashboard route.

use app::auth::{session_store::USER_KEY, SessionUser};
use axum::{
    extract::Request,
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Json,
};
use tower_sessions::Session;

/// Paths that are served without a signed-in session.
fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/mfa"
        || path.starts_with("/invite/")
        || path.starts_with("/confirm-email/")
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics"
        || path == "/favicon.svg"
        || ["/pkg/", "/rpc/", "/api/"].iter().any(|prefix| path.starts_with(prefix))
}

/// Sends a signed-out browser to the sign-in page before any dashboard page renders,
/// remembering where it was going.
pub async fn require_session_for_pages(session: Session, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_page_load = matches!(*request.method(), Method::GET | Method::HEAD);
    if !is_page_load || is_public(path) {
        return next.run(request).await;
    }
    match session.get::<SessionUser>(USER_KEY).await {
        Ok(Some(_)) => next.run(request).await,
        Ok(None) => {
            let target = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let next_param: String = url_encode(target);
            Redirect::to(&format!("/login?next={next_param}")).into_response()
        }
        Err(e) => app::error::AppError::internal("reading session", e).into_response(),
    }
}

/// Refuses state-changing requests that a browser sent from another site. Leptos server
/// functions have no CSRF protection of their own; the session cookie is SameSite=Lax and
/// this check (Fetch Metadata, then Origin) covers the rest. The bearer-token API is
/// exempt: it carries no ambient credentials.
pub async fn reject_cross_site_writes(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    if safe || request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cross_site = if let Some(site) = headers.get("sec-fetch-site") {
        !matches!(site.to_str().unwrap_or(""), "same-origin" | "none")
    } else if let Some(origin) = headers.get(header::ORIGIN) {
        let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, host)| host);
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        origin_host.is_none() || origin_host != host
    } else {
        false
    };
    if cross_site {
        tracing::warn!(path = %request.uri().path(), "cross-site write refused");
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "message": "Cross-site request refused." })),
        )
            .into_response();
    }
    next.run(request).await
}

fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_exactly_the_unauthenticated_ones() {
        for path in ["/login", "/healthz", "/readyz", "/pkg/attest.js", "/rpc/login", "/api/v1/identity/verifications"] {
            assert!(is_public(path), "{path}");
        }
        for path in ["/", "/w/acme", "/loginx", "/pkgs"] {
            assert!(!is_public(path), "{path}");
        }
    }

    #[test]
    fn next_parameter_is_encoded() {
        assert_eq!(url_encode("/w/acme?tab=a&b=c"), "/w/acme%3Ftab%3Da%26b%3Dc");
    }
}

/// `x-request-id` for requests that come without one: our sortable ids (`req_…`), made
/// from a thread-local generator. A UUID v4 asked the kernel for randomness on every
/// request (a `getrandom` system call), measurable in `bench/run`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRequestId;

impl tower_http::request_id::MakeRequestId for MakeRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<tower_http::request_id::RequestId> {
        axum::http::HeaderValue::from_str(&app::store::ids::new_id("req")).ok().map(tower_http::request_id::RequestId::new)
    }
}
