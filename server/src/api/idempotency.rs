//! `Idempotency-Key` on POST: the first response to a key is stored; a retry with the
//! same key and the same request gets that response again (`Idempotent-Replayed:
//! true`), a different request with the same key is refused (422).
//!
//! Keys live 24 hours: an older key is forgotten (the request runs afresh) and the
//! workers delete old records ([`delete_expired`]). Stored responses are sealed
//! (AES-256-GCM under a key derived from the master key), since some carry a webhook
//! secret or applicant data. A key is used, replayed or not, only by a token holding the
//! route's scope ([`POST_SCOPES`]), so a replay cannot hand a response to a token that
//! could not have made the request.

use app::{
    access::tokens::TokenIdentity,
    documents::crypto::{self, MasterKey},
    error::AppError,
    state::AppState,
    store::{now_ms, Db},
};
use axum::{
    body::{to_bytes, Body, Bytes},
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// Uploads are the largest requests: two files of 10 MB and their multipart framing.
const MAX_REQUEST_BYTES: usize = 21 * 1024 * 1024 + 64 * 1024;
/// Responses larger than this are not stored (none of the POST responses come close).
const MAX_STORED_RESPONSE: usize = 1024 * 1024;
/// How long a key is remembered.
pub const KEY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// The longest a request holding a key may run; past it, it is answered 500 and the key
/// freed, as for any failure on our side.
const IN_FLIGHT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// A key still without a response this long after it was claimed belongs to a request
/// whose process died (killed, crashed, redeployed): a retry takes it over and runs the
/// request, instead of being told "still being processed" for 24 hours.
pub const ABANDONED_AFTER_MS: i64 = 2 * IN_FLIGHT_LIMIT.as_millis() as i64;

/// The scope each POST route requires (its handler checks the same one), by route
/// pattern under `/api/v1`. A test checks that every POST route is listed.
use app::access::Scope;

pub const POST_SCOPES: &[(&str, Scope)] = &[
    ("/{flow}/verifications", Scope::VerificationsWrite),
    ("/{flow}/verifications/{id}/submit", Scope::VerificationsWrite),
    ("/{flow}/verifications/{id}/cancel", Scope::VerificationsWrite),
    ("/{flow}/verifications/{id}/decision", Scope::DecisionsWrite),
    ("/{flow}/verifications/{id}/request-document", Scope::DecisionsWrite),
    ("/{flow}/verifications/{id}/documents", Scope::VerificationsWrite),
    ("/{flow}/verifications/{id}/capture-links", Scope::VerificationsWrite),
    ("/{flow}/verifications/{id}/redact", Scope::VerificationsWrite),
    ("/{flow}/verifications/{id}/reverify", Scope::VerificationsWrite),
    ("/{flow}/compliance/quarterly/certify", Scope::DecisionsWrite),
    ("/{flow}/verifications/{id}/legal-hold", Scope::VerificationsWrite),
    ("/{flow}/verifications/{id}/documents/{doc_id}/decision", Scope::DecisionsWrite),
    ("/webhook-endpoints", Scope::WebhooksManage),
    ("/webhook-endpoints/{id}/rotate-secret", Scope::WebhooksManage),
    ("/webhook-endpoints/{id}/test", Scope::WebhooksManage),
    ("/webhook-deliveries/{id}/resend", Scope::WebhooksManage),
];

fn required_scope(matched: &str) -> Option<Scope> {
    let route = matched.strip_prefix("/api/v1").unwrap_or(matched);
    POST_SCOPES.iter().find(|(pattern, _)| *pattern == route).map(|(_, scope)| *scope)
}

/// The key that seals stored responses.
fn sealing_key(master: &MasterKey) -> MasterKey {
    crypto::idempotency_key(master)
}

/// Deletes the records older than [`KEY_TTL_MS`]; how many went.
pub async fn delete_expired(db: &Db) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(now_ms() - KEY_TTL_MS).execute(db.pool()).await?;
    Ok(done.rows_affected())
}

pub async fn replay_or_record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let key = request.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (Some(key), true) = (key, request.method() == Method::POST) else {
        return next.run(request).await;
    };
    let Some(identity) = request.extensions().get::<TokenIdentity>().cloned() else {
        return next.run(request).await;
    };
    // Not a POST route (a 404 or 405 follows): nothing worth remembering.
    let Some(scope) = request.extensions().get::<MatchedPath>().and_then(|m| required_scope(m.as_str())) else {
        return next.run(request).await;
    };
    if key.is_empty() || key.len() > 255 {
        return AppError::invalid("Idempotency-Key", "The Idempotency-Key may not be empty or greater than 255 characters.").into_response();
    }
    // Before the store is read: a replay answers only a token that could make the request.
    if let Err(e) = identity.require(scope) {
        return e.into_response();
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
    hasher.update(body_fingerprint(&parts.headers, &bytes).await);
    let request_hash = hex::encode(hasher.finalize());

    // An expired record of this key is forgotten: the request runs as a new one.
    let now = now_ms();
    let forgotten = sqlx::query("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND created_at < $3")
        .bind(&identity.workspace_id)
        .bind(&key)
        .bind(now - KEY_TTL_MS)
        .execute(state.db.pool())
        .await;
    if let Err(e) = forgotten {
        return AppError::from(e).into_response();
    }
    let inserted = sqlx::query("INSERT INTO idempotency_keys (workspace_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&identity.workspace_id)
        .bind(&key)
        .bind(&request_hash)
        .bind(now)
        .execute(state.db.pool())
        .await;
    match inserted {
        Ok(_) => {}
        Err(e) if app::store::is_unique_violation(&e) => match take_over_abandoned(&state.db, &identity.workspace_id, &key, &request_hash, now).await {
            Ok(true) => tracing::warn!("an Idempotency-Key left without a response by a request that died is taken over by its retry"),
            Ok(false) => return replay(&state, &identity.workspace_id, &key, &request_hash).await,
            Err(e) => return AppError::from(e).into_response(),
        },
        Err(e) => return AppError::from(e).into_response(),
    }

    let response = match tokio::time::timeout(IN_FLIGHT_LIMIT, next.run(Request::from_parts(parts, Body::from(bytes)))).await {
        Ok(response) => response,
        Err(elapsed) => AppError::internal("a request holding an Idempotency-Key ran past its time limit", elapsed).into_response(),
    };
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(bytes) => bytes,
        Err(e) => return AppError::internal("buffering an idempotent response", e).into_response(),
    };
    let stored = if parts.status.is_server_error() {
        // A failure on our side may succeed on retry: forget the key.
        sqlx::query("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2").bind(&identity.workspace_id).bind(&key).execute(state.db.pool()).await
    } else {
        sqlx::query("UPDATE idempotency_keys SET response_status = $1, response_sealed = $2 WHERE workspace_id = $3 AND key = $4")
            .bind(parts.status.as_u16() as i64)
            .bind(hex::encode(crypto::seal(&sealing_key(&state.files.master), &bytes)))
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

/// What identifies a request's body. A multipart upload is identified by its parts (name
/// and content, in name order), not by its bytes: a client's retry picks a new boundary
/// and must still be a replay. A part's file name and media type are left out, as the
/// upload ignores them (the type is sniffed). Anything else, and a multipart body that
/// does not parse, by its bytes.
async fn body_fingerprint(headers: &HeaderMap, bytes: &Bytes) -> [u8; 32] {
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data")))
        .and_then(|v| multer::parse_boundary(v).ok());
    if let Some(boundary) = boundary {
        if let Some(parts) = multipart_parts(bytes.clone(), boundary).await {
            let mut hasher = Sha256::new();
            hasher.update(b"multipart\n");
            for (name, content) in parts {
                // Lengths first, so no two different part lists hash alike.
                hasher.update((name.len() as u64).to_be_bytes());
                hasher.update(name.as_bytes());
                hasher.update((content.len() as u64).to_be_bytes());
                hasher.update(&content);
            }
            return hasher.finalize().into();
        }
    }
    Sha256::digest(bytes).into()
}

/// The parts of a multipart body, sorted by name (a stable sort: repeated names keep their
/// order), or `None` when it does not parse.
async fn multipart_parts(bytes: Bytes, boundary: String) -> Option<Vec<(String, Bytes)>> {
    let mut multipart = multer::Multipart::new(Body::from(bytes).into_data_stream(), boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.ok()? {
        let name = field.name().unwrap_or("").to_string();
        parts.push((name, field.bytes().await.ok()?));
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    Some(parts)
}

/// Claims `key` again when its claim is older than [`ABANDONED_AFTER_MS`], has no
/// response and was made by the same request; whether this request won it (one retry
/// does, however many race).
async fn take_over_abandoned(db: &Db, workspace_id: &str, key: &str, request_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query(
        "UPDATE idempotency_keys SET created_at = $1 WHERE workspace_id = $2 AND key = $3 AND request_hash = $4 AND response_status IS NULL AND created_at < $5",
    )
    .bind(now)
    .bind(workspace_id)
    .bind(key)
    .bind(request_hash)
    .bind(now - ABANDONED_AFTER_MS)
    .execute(db.pool())
    .await?;
    Ok(taken.rows_affected() == 1)
}

async fn replay(state: &AppState, workspace_id: &str, key: &str, request_hash: &str) -> Response {
    let row =
        sqlx::query("SELECT request_hash, response_status, response_sealed FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND created_at >= $3")
            .bind(workspace_id)
            .bind(key)
            .bind(now_ms() - KEY_TTL_MS)
            .fetch_optional(state.db.pool())
            .await;
    let row = match row {
        Ok(Some(row)) => row,
        Ok(None) => return AppError::Conflict("A request with this Idempotency-Key is still being processed.".into()).into_response(),
        Err(e) => return AppError::from(e).into_response(),
    };
    let stored = (|| -> Result<(String, Option<i64>, Option<String>), sqlx::Error> {
        Ok((row.try_get("request_hash")?, row.try_get("response_status")?, row.try_get("response_sealed")?))
    })();
    // A row that cannot be read is our fault, not the client's: a 500 with its cause logged.
    let (stored_hash, status, sealed) = match stored {
        Ok(stored) => stored,
        Err(e) => return AppError::internal("reading a stored idempotent response", e).into_response(),
    };
    if stored_hash != request_hash {
        return AppError::invalid("Idempotency-Key", "This Idempotency-Key was already used with a different request.").into_response();
    }
    match (status, sealed) {
        (Some(status), Some(sealed)) => {
            let opened =
                hex::decode(&sealed).map_err(|e| e.to_string()).and_then(|b| crypto::open(&sealing_key(&state.files.master), &b).map_err(|e| e.to_string()));
            let body = match opened {
                Ok(body) => body,
                Err(e) => return AppError::internal("opening a stored idempotent response", e).into_response(),
            };
            let empty = body.is_empty();
            let mut response = (StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK), Body::from(body)).into_response();
            let headers = response.headers_mut();
            // Every stored body is JSON, or empty (a 202).
            if !empty {
                headers.insert("content-type", HeaderValue::from_static("application/json"));
            }
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        _ => AppError::Conflict("A request with this Idempotency-Key is still being processed.".into()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_post_route_has_its_scope_listed() {
        let (_, doc) = super::super::routes().split_for_parts();
        let mut posts: Vec<String> = doc.paths.paths.iter().filter(|(_, item)| item.post.is_some()).map(|(path, _)| path.clone()).collect();
        posts.sort();
        let mut listed: Vec<String> = POST_SCOPES.iter().map(|(path, _)| path.to_string()).collect();
        listed.sort();
        assert_eq!(posts, listed);
        assert_eq!(required_scope("/api/v1/webhook-endpoints"), Some(Scope::WebhooksManage));
    }
}
