//! Endpoint management, fan-out of outbox events to endpoints, the delivery log, resend
//! and test events.

use super::{Attempt, Delivery, EndpointWithSecret, WebhookEndpoint, EVENT_TYPES};
use crate::{
    access::Actor,
    dates::rfc3339,
    documents::crypto::{self, MasterKey},
    error::{AppError, FieldErrors},
    journal,
    state::Environment,
    store::{
        batch::{Batch, Statement},
        ids::new_id,
        now_ms, Db,
    },
};
use base64::Engine as _;
use rand::RngCore;
use serde_json::{json, Value};
use sqlx::{any::AnyRow, Row};

pub const DELIVER_JOB: &str = "deliver_webhook";
/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

pub fn seal_secret(master: &MasterKey, secret: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(crypto::seal(master, secret.as_bytes()))
}

pub fn open_secret(master: &MasterKey, sealed: &str) -> Result<String, AppError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|e| AppError::internal("stored webhook secret", e))?;
    let plain = crypto::open(master, &bytes).map_err(|e| AppError::internal("stored webhook secret", e))?;
    String::from_utf8(plain).map_err(|e| AppError::internal("stored webhook secret", e))
}

/// `whsec_` + base64 of 32 random bytes (SPEC §6).
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

const COLUMNS: &str = "id, url, description, event_types, active, disabled_reason, created_at, updated_at";

/// A `webhook_endpoints` row as stored ([`COLUMNS`]).
#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    url: String,
    description: String,
    /// Space-separated.
    event_types: String,
    active: i64,
    disabled_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> Self {
        WebhookEndpoint {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types: row.event_types.split_whitespace().map(str::to_string).collect(),
            active: row.active != 0,
            disabled_reason: row.disabled_reason,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

fn decode(row: &AnyRow) -> Result<WebhookEndpoint, AppError> {
    Ok(<EndpointRow as sqlx::FromRow<AnyRow>>::from_row(row)?.into())
}

/// Checks a URL for the environment: `https` only in production, `http` too in sandbox;
/// an IP address must be public (or loopback, in sandbox). Names are checked at connect
/// time, on every resolved address ([`super::deliver::is_allowed`]).
pub fn validate_url(url: &str, environment: Environment) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| "The url must be a valid URL.".to_string())?;
    match parsed.scheme() {
        "https" => {}
        "http" if !environment.is_production() => {}
        _ => return Err(if environment.is_production() { "The url must use https.".into() } else { "The url must use http or https.".into() }),
    }
    if parsed.host_str().is_none_or(str::is_empty) || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("The url must name a host and carry no credentials.".into());
    }
    if url.len() > 2000 {
        return Err("The url may not be greater than 2000 characters.".into());
    }
    let literal = parsed.host_str().map(|h| h.trim_matches(['[', ']'])).and_then(|h| h.parse::<std::net::IpAddr>().ok());
    if literal.is_some_and(|ip| !super::deliver::is_allowed(ip, environment)) {
        return Err(if environment.is_production() {
            "The url must not point at a private, loopback, link-local or reserved address.".into()
        } else {
            "The url must not point at a private, link-local or reserved address (loopback is allowed in sandbox).".into()
        });
    }
    Ok(parsed)
}

fn validate_events(events: &[String]) -> Result<Vec<String>, String> {
    if events.is_empty() {
        return Ok(vec!["*".into()]);
    }
    let mut out = Vec::new();
    for e in events {
        let e = e.trim();
        if e != "*" && !EVENT_TYPES.contains(&e) {
            return Err("An unknown event type was given.".to_string());
        }
        if !out.iter().any(|o| o == e) {
            out.push(e.to_string());
        }
    }
    Ok(out)
}

/// What a create or update asks for.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub active: Option<bool>,
}

impl EndpointInput {
    /// Reads a JSON body (`url`, `description`, `event_types`, `active`).
    pub fn from_json(body: &Value) -> Result<EndpointInput, AppError> {
        let mut errors = FieldErrors::new();
        let mut input = EndpointInput::default();
        let Some(map) = body.as_object() else { return Err(AppError::invalid("body", "The request body must be a JSON object.")) };
        for key in map.keys() {
            if !["url", "description", "event_types", "active"].contains(&key.as_str()) {
                errors.insert(key.clone(), vec![format!("The {key} field is not recognised.")]);
            }
        }
        match map.get("url") {
            Some(Value::String(s)) => input.url = Some(s.clone()),
            Some(Value::Null) | None => {}
            Some(_) => {
                errors.insert("url".into(), vec!["The url must be a string.".into()]);
            }
        }
        match map.get("description") {
            Some(Value::String(s)) if s.chars().count() <= 500 => input.description = Some(s.clone()),
            Some(Value::String(_)) => {
                errors.insert("description".into(), vec!["The description may not be greater than 500 characters.".into()]);
            }
            Some(Value::Null) | None => {}
            Some(_) => {
                errors.insert("description".into(), vec!["The description must be a string.".into()]);
            }
        }
        match map.get("event_types") {
            Some(Value::Array(items)) => {
                let strings: Option<Vec<String>> = items.iter().map(|v| v.as_str().map(str::to_string)).collect();
                match strings {
                    Some(s) => input.event_types = Some(s),
                    None => {
                        errors.insert("event_types".into(), vec!["The event_types must be a list of strings.".into()]);
                    }
                }
            }
            Some(Value::Null) | None => {}
            Some(_) => {
                errors.insert("event_types".into(), vec!["The event_types must be a list of strings.".into()]);
            }
        }
        match map.get("active") {
            Some(Value::Bool(b)) => input.active = Some(*b),
            Some(Value::Null) | None => {}
            Some(_) => {
                errors.insert("active".into(), vec!["The active field must be true or false.".into()]);
            }
        }
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

pub async fn create(
    db: &Db,
    master: &MasterKey,
    environment: Environment,
    workspace_id: &str,
    input: EndpointInput,
    actor: &Actor,
) -> Result<EndpointWithSecret, AppError> {
    let mut errors = FieldErrors::new();
    let url = match input.url.as_deref().map(|u| validate_url(u, environment)) {
        Some(Ok(u)) => Some(u.to_string()),
        Some(Err(e)) => {
            errors.insert("url".into(), vec![e]);
            None
        }
        None => {
            errors.insert("url".into(), vec!["The url field is required.".into()]);
            None
        }
    };
    let events = match validate_events(&input.event_types.unwrap_or_default()) {
        Ok(e) => e,
        Err(e) => {
            errors.insert("event_types".into(), vec![e]);
            Vec::new()
        }
    };
    let (Some(url), true) = (url, errors.is_empty()) else { return Err(AppError::Validation(errors)) };
    let secret = new_secret();
    let id = new_id("we");
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO webhook_endpoints (id, workspace_id, url, description, event_types, active, secret_enc, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)")
        .bind(&id)
        .bind(workspace_id)
        .bind(&url)
        .bind(input.description.unwrap_or_default())
        .bind(events.join(" "))
        .bind(i64::from(input.active.unwrap_or(true)))
        .bind(seal_secret(master, &secret))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    journal::note(&mut tx, workspace_id, actor, "webhook.endpoint_created", &id, Some(json!({ "url": url }))).await?;
    tx.commit().await?;
    Ok(EndpointWithSecret { endpoint: get(db, workspace_id, &id).await?, secret })
}

pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<WebhookEndpoint, AppError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1 AND workspace_id = $2"))
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    decode(&row)
}

pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<WebhookEndpoint>, AppError> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY id DESC"))
        .bind(workspace_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(decode)
        .collect()
}

pub async fn update(db: &Db, environment: Environment, workspace_id: &str, id: &str, input: EndpointInput, actor: &Actor) -> Result<WebhookEndpoint, AppError> {
    let current = get(db, workspace_id, id).await?;
    let mut errors = FieldErrors::new();
    let url = match input.url.as_deref().map(|u| validate_url(u, environment)) {
        Some(Ok(u)) => u.to_string(),
        Some(Err(e)) => {
            errors.insert("url".into(), vec![e]);
            current.url.clone()
        }
        None => current.url.clone(),
    };
    let events = match input.event_types.map(|e| validate_events(&e)) {
        Some(Ok(e)) => e,
        Some(Err(e)) => {
            errors.insert("event_types".into(), vec![e]);
            current.event_types.clone()
        }
        None => current.event_types.clone(),
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let active = input.active.unwrap_or(current.active);
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, active = $4, \
                 disabled_reason = CASE WHEN $4 = 1 THEN NULL ELSE disabled_reason END, failing_since = CASE WHEN $4 = 1 THEN NULL ELSE failing_since END, updated_at = $5 \
                 WHERE id = $6 AND workspace_id = $7")
        .bind(&url)
        .bind(input.description.unwrap_or(current.description))
        .bind(events.join(" "))
        .bind(i64::from(active))
        .bind(now_ms())
        .bind(id)
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?;
    journal::note(&mut tx, workspace_id, actor, "webhook.endpoint_updated", id, Some(json!({ "url": url, "active": active }))).await?;
    tx.commit().await?;
    get(db, workspace_id, id).await
}

pub async fn delete(db: &Db, workspace_id: &str, id: &str, actor: &Actor) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let deleted = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND workspace_id = $2").bind(id).bind(workspace_id).execute(&mut *tx).await?;
    if deleted.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    journal::note(&mut tx, workspace_id, actor, "webhook.endpoint_deleted", id, None).await?;
    tx.commit().await?;
    Ok(())
}

/// A new secret; the previous one keeps signing (both signatures sent) for 24 hours.
pub async fn rotate_secret(db: &Db, master: &MasterKey, workspace_id: &str, id: &str, actor: &Actor) -> Result<String, AppError> {
    get(db, workspace_id, id).await?;
    let secret = new_secret();
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE webhook_endpoints SET previous_secret_enc = secret_enc, previous_secret_until = $1, secret_enc = $2, updated_at = $3 WHERE id = $4 AND workspace_id = $5")
        .bind(now_ms() + ROTATION_WINDOW_MS)
        .bind(seal_secret(master, &secret))
        .bind(now_ms())
        .bind(id)
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?;
    journal::note(&mut tx, workspace_id, actor, "webhook.secret_rotated", id, None).await?;
    tx.commit().await?;
    Ok(secret)
}

/// The active endpoints of a workspace that take `event_type`.
pub async fn subscribers<'e, E>(executor: E, workspace_id: &str, event_type: &str) -> Result<Vec<String>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(subscribed(&active_endpoints(executor, workspace_id).await?, event_type))
}

/// [`subscribers`] from memory while no endpoint changed (every endpoint write bumps the
/// epoch), for the API's hot paths.
pub async fn cached_subscribers(db: &Db, workspace_id: &str, event_type: &str) -> Result<Vec<String>, sqlx::Error> {
    let endpoints = db.cached(crate::store::cache::Cached::WebhookSubscribers, workspace_id, || active_endpoints(db.pool(), workspace_id)).await?;
    Ok(subscribed(&endpoints, event_type))
}

/// `(id, event types)` of a workspace's active endpoints.
async fn active_endpoints<'e, E>(executor: E, workspace_id: &str) -> Result<Vec<(String, String)>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as("SELECT id, event_types FROM webhook_endpoints WHERE workspace_id = $1 AND active = 1").bind(workspace_id).fetch_all(executor).await
}

fn subscribed(endpoints: &[(String, String)], event_type: &str) -> Vec<String> {
    endpoints.iter().filter(|(_, types)| types.split_whitespace().any(|t| t == "*" || t == event_type)).map(|(id, _)| id.clone()).collect()
}

/// A delivery and its job for each of `endpoints` (from [`subscribers`] or
/// [`cached_subscribers`]), added to `batch`: the outbox writer runs it in the transaction
/// of the change.
pub fn fan_out_into(batch: &mut Batch, endpoints: &[String], workspace_id: &str, event_id: &str, event_type: &str, payload: &str) {
    for endpoint_id in endpoints {
        let (delivery_id, insert) = delivery_statement(workspace_id, endpoint_id, event_id, event_type, payload);
        batch.push(insert);
        let (_, job) = crate::jobs::enqueue_statement(
            DELIVER_JOB,
            &json!({ "delivery_id": delivery_id, "trigger": "automatic" }),
            now_ms(),
            super::deliver::max_attempts(),
        );
        batch.push(job);
    }
}

async fn insert_delivery(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    workspace_id: &str,
    endpoint_id: &str,
    event_id: &str,
    event_type: &str,
    payload: &str,
) -> Result<String, sqlx::Error> {
    let (id, statement) = delivery_statement(workspace_id, endpoint_id, event_id, event_type, payload);
    statement.execute(&mut **tx).await?;
    Ok(id)
}

fn delivery_statement(workspace_id: &str, endpoint_id: &str, event_id: &str, event_type: &str, payload: &str) -> (String, Statement) {
    let id = new_id("msg");
    let statement = Statement::new("INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, event_type, payload, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)")
        .bind(&id)
        .bind(workspace_id)
        .bind(endpoint_id)
        .bind(event_id)
        .bind(event_type)
        .bind(payload)
        .bind(now_ms());
    (id, statement)
}

/// Sends a `webhook.test` event to one endpoint now.
pub async fn send_test(db: &Db, workspace_id: &str, endpoint_id: &str, actor: &Actor) -> Result<String, AppError> {
    get(db, workspace_id, endpoint_id).await?;
    let event_id = new_id("evt");
    let payload = json!({ "id": event_id, "type": "webhook.test", "created_at": rfc3339(now_ms()), "data": { "object": { "message": "This is a test event from Attest." } } }).to_string();
    let mut tx = db.begin_write().await?;
    let delivery_id = insert_delivery(&mut tx, workspace_id, endpoint_id, &event_id, "webhook.test", &payload).await?;
    crate::jobs::enqueue(&mut tx, DELIVER_JOB, &json!({ "delivery_id": delivery_id, "trigger": "test" }), now_ms(), 1).await?;
    journal::note(&mut tx, workspace_id, actor, "webhook.test_sent", endpoint_id, None).await?;
    tx.commit().await?;
    db.wake_workers();
    Ok(delivery_id)
}

/// Sends a delivery's event again: same `webhook-id`, fresh timestamp and signature.
pub async fn resend(db: &Db, workspace_id: &str, delivery_id: &str, actor: &Actor) -> Result<(), AppError> {
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM webhook_deliveries WHERE id = $1 AND workspace_id = $2")
        .bind(delivery_id)
        .bind(workspace_id)
        .fetch_optional(db.pool())
        .await?;
    exists.ok_or(AppError::NotFound)?;
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE webhook_deliveries SET status = 'pending', updated_at = $1 WHERE id = $2").bind(now_ms()).bind(delivery_id).execute(&mut *tx).await?;
    crate::jobs::enqueue(&mut tx, DELIVER_JOB, &json!({ "delivery_id": delivery_id, "trigger": "resend" }), now_ms(), 1).await?;
    journal::note(&mut tx, workspace_id, actor, "webhook.resent", delivery_id, None).await?;
    tx.commit().await?;
    db.wake_workers();
    Ok(())
}

/// Filters of the delivery log.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<String>,
    pub event_type: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
}

/// The delivery log, newest first, each delivery with its attempts.
pub async fn deliveries(db: &Db, workspace_id: &str, filter: &DeliveryFilter) -> Result<Vec<Delivery>, AppError> {
    let rows = sqlx::query(
        "SELECT d.id, d.endpoint_id, e.url, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt_at, d.created_at \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.workspace_id = $1 AND ($2 = '' OR d.endpoint_id = $2) AND ($3 = '' OR d.event_type = $3) AND ($4 = '' OR d.status = $4) \
         ORDER BY d.id DESC LIMIT $5",
    )
    .bind(workspace_id)
    .bind(filter.endpoint_id.clone().unwrap_or_default())
    .bind(filter.event_type.clone().unwrap_or_default())
    .bind(filter.status.clone().unwrap_or_default())
    .bind(filter.limit.clamp(1, 200))
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        out.push(Delivery {
            attempt_log: attempts(db, &id).await?,
            id,
            endpoint_id: r.try_get("endpoint_id")?,
            url: r.try_get("url")?,
            event_id: r.try_get("event_id")?,
            event_type: r.try_get("event_type")?,
            status: r.try_get("status")?,
            attempts: r.try_get("attempts")?,
            next_attempt_at: r.try_get::<Option<i64>, _>("next_attempt_at")?.map(rfc3339),
            created_at: rfc3339(r.try_get("created_at")?),
        });
    }
    Ok(out)
}

pub async fn attempts(db: &Db, delivery_id: &str) -> Result<Vec<Attempt>, AppError> {
    let rows = sqlx::query("SELECT id, trigger, attempted_at, url, request_headers, request_body, response_status, response_body, duration_ms, failure_class, failure_detail FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id")
        .bind(delivery_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let headers: String = r.try_get("request_headers")?;
            Ok(Attempt {
                id: r.try_get("id")?,
                trigger: r.try_get("trigger")?,
                attempted_at: rfc3339(r.try_get("attempted_at")?),
                url: r.try_get("url")?,
                request_headers: serde_json::from_str(&headers).map_err(|e| AppError::internal("stored request headers of a delivery attempt", e))?,
                request_body: r.try_get("request_body")?,
                response_status: r.try_get("response_status")?,
                response_body: r.try_get("response_body")?,
                duration_ms: r.try_get("duration_ms")?,
                failure_class: r.try_get("failure_class")?,
                failure_detail: r.try_get("failure_detail")?,
            })
        })
        .collect()
}
