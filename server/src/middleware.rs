//! Request guards shared by every dashboard route.

use app::auth::{session_store::USER_KEY, SessionUser};
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Json,
};
use tower_sessions::Session;

/// Serves the request with its client address (per `ATTEST_TRUSTED_PROXIES`, as sign-in
/// reads it) and user agent known to the activity log ([`app::activity::in_request`]).
pub async fn record_origin(State(trusted): State<std::sync::Arc<Vec<ipnet::IpNet>>>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let origin = app::auth::client_ip::origin(peer, request.headers(), &trusted);
    app::activity::in_request(origin, next.run(request)).await
}

/// Paths that are served without a signed-in session.
fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/mfa"
        || path.starts_with("/invite/")
        || path == "/forgot-password"
        || path.starts_with("/sandbox/mailbox")
        || path.starts_with("/reset-password/")
        || path.starts_with("/confirm-email/")
        || path.starts_with("/c/")
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
        tracing::warn!(path = %redact_path(request.uri().path()), "cross-site write refused");
        return (StatusCode::FORBIDDEN, Json(serde_json::json!({ "message": "Cross-site request refused." }))).into_response();
    }
    next.run(request).await
}

/// Public pages whose last path segment is a secret (invitation, password reset,
/// e-mail confirmation, capture links).
const SECRET_PATH_PREFIXES: [&str; 4] = ["/invite/", "/reset-password/", "/confirm-email/", "/c/"];

/// `path` as it may appear in a log line: the secret segment of a link replaced.
pub fn redact_path(path: &str) -> String {
    match SECRET_PATH_PREFIXES.iter().find(|prefix| path.starts_with(*prefix)) {
        Some(prefix) => format!("{prefix}[redacted]"),
        None => path.chars().take(512).collect(),
    }
}

/// Keeps a signed-in session alive while it is used: the idle timeout slides. Saving on
/// every request would write the session row each time, so the session is marked used
/// at most every tenth of the idle period (a minute at most); tower-sessions then saves
/// it with a fresh expiry and cookie.
pub async fn keep_session_alive(State(idle): State<std::time::Duration>, session: Session, request: Request, next: Next) -> Response {
    const SEEN_KEY: &str = "seen_at";
    if let Ok(Some(_)) = session.get::<SessionUser>(USER_KEY).await {
        let now = app::store::now_ms();
        let every = (idle.as_millis() as i64 / 10).clamp(1_000, 60_000);
        let seen = session.get::<i64>(SEEN_KEY).await.ok().flatten().unwrap_or(0);
        if now - seen >= every {
            if let Err(e) = session.insert(SEEN_KEY, now).await {
                tracing::warn!(error = %e, "could not mark the session as used");
            }
        }
    }
    next.run(request).await
}

/// Headers every response carries: no framing, no sniffing, no referrer to other sites,
/// HSTS in production, nothing stored by caches (pages and documents hold PII) unless the
/// route chose its own caching (`/pkg`), and a strict Content-Security-Policy where a
/// response did not set its own (pages set one with their script nonce, see
/// `app::shell`; document files theirs, see `document_files::document_response`).
pub async fn security_headers(State(production): State<bool>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    if production {
        set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    }
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    response
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
        for path in ["/login", "/c/abc", "/healthz", "/readyz", "/pkg/attest.js", "/rpc/login", "/api/v1/identity/verifications"] {
            assert!(is_public(path), "{path}");
        }
        for path in ["/", "/w/acme", "/loginx", "/pkgs"] {
            assert!(!is_public(path), "{path}");
        }
    }

    #[test]
    fn secret_links_never_reach_a_log_line() {
        assert_eq!(redact_path("/invite/abcDEF123secret"), "/invite/[redacted]");
        assert_eq!(redact_path("/reset-password/abc"), "/reset-password/[redacted]");
        assert_eq!(redact_path("/c/abcDEF123secret/upload"), "/c/[redacted]");
        assert_eq!(redact_path("/w/acme/verifications"), "/w/acme/verifications");
    }

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        for id in ["abc", "req_01HZY", "0b7c9e1e-3f7a-4a63-9d55-8a8f1d8f6c1b", "a.b_c-d", &"x".repeat(64)] {
            assert!(is_well_formed_request_id(id.as_bytes()), "{id}");
        }
        for id in ["", "abc\u{7f}", "a b", "a\tb", "line\r\nbreak", "ümlaut", "a/b", "{\"json\":1}", &"x".repeat(65)] {
            assert!(!is_well_formed_request_id(id.as_bytes()), "{id:?}");
        }
    }

    #[test]
    fn next_parameter_is_encoded() {
        assert_eq!(url_encode("/w/acme?tab=a&b=c"), "/w/acme%3Ftab%3Da%26b%3Dc");
    }
}

/// Whether a client's `x-request-id` may be kept: 1–64 of `[A-Za-z0-9._-]`. Anything
/// else (control characters, spaces, huge values) never reaches logs or response headers.
pub fn is_well_formed_request_id(value: &[u8]) -> bool {
    (1..=64).contains(&value.len()) && value.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Removes an `x-request-id` that is not [well formed](is_well_formed_request_id) (or
/// comes more than once), so [`MakeRequestId`] gives the request one of ours. Runs
/// before the request-id and trace layers.
pub async fn drop_malformed_request_id(mut request: Request, next: Next) -> Response {
    let headers = request.headers_mut();
    let mut values = headers.get_all("x-request-id").iter();
    let keep = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(value), None) => is_well_formed_request_id(value.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        headers.remove("x-request-id");
    }
    next.run(request).await
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
