//! Sending one delivery: Standard Webhooks signature (the `standardwebhooks` crate), a
//! POST with a timeout, no redirects and no proxy, an SSRF guard on every resolved
//! address (production: public addresses only; sandbox: public and loopback, SPEC §1),
//! at most 4 KB of the response body read, the attempt logged with its failure class,
//! and the retry schedule.

use super::service::{open_secret, DELIVER_JOB};
use crate::{
    error::AppError,
    jobs::{self, Job},
    state::{AppState, Environment},
    store::{
        batch::{Batch, Statement},
        ids::new_id,
        now_ms,
    },
};
use rand::Rng;
use serde_json::json;
use sqlx::Row;
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

/// Job attempts are bounded by the retry schedule, not by the queue.
pub fn max_attempts() -> i64 {
    100
}

/// The delivery settings and the HTTP client, built once per process.
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    /// Delay before each attempt after the first (SPEC §6: 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
    pub schedule: Vec<Duration>,
    pub environment: Environment,
    /// An endpoint failing this long is disabled and its owners told.
    pub disable_after: Duration,
}

pub const DEFAULT_SCHEDULE_SECS: [u64; 8] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];

impl Deliverer {
    pub fn new(environment: Environment, timeout: Duration, schedule: Vec<Duration>) -> Result<Deliverer, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from HTTP(S)_PROXY would be the only address the guard sees.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { environment }))
            .user_agent("Attest-Webhooks/1")
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Deliverer { client, schedule, environment, disable_after: Duration::from_secs(5 * 24 * 3600) })
    }

    /// Delay before the attempt after `attempts_made`, with ±10 % jitter; `None` when spent.
    fn next_delay(&self, attempts_made: i64) -> Option<Duration> {
        let base = *self.schedule.get(attempts_made as usize)?;
        let jitter = base.as_millis() as f64 * rand::thread_rng().gen_range(-0.1..=0.1);
        Some(Duration::from_millis((base.as_millis() as f64 + jitter).max(0.0) as u64))
    }
}

/// Whether an address may receive webhooks in production: globally reachable unicast
/// only. IPv6 forms that carry an IPv4 address (mapped, NAT64 64:ff9b::/96, 6to4) are
/// judged by that address; other special ranges are refused outright.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xC0) == 64)
                // IETF protocol assignments (192.0.0.0/24), benchmarking (198.18.0.0/15), the 6to4 relay anycast (192.88.99.0/24).
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xFE) == 18)
                || (o[0] == 192 && o[1] == 88 && o[2] == 99)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| IpAddr::V4(std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            // NAT64 (well-known prefix): the gateway connects to the embedded IPv4 address.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(embedded(s[6], s[7]));
            }
            // 6to4: 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
            if s[0] == 0x2002 {
                return is_public(embedded(s[1], s[2]));
            }
            !(s[..6] == [0; 6] // ::/96: unspecified, loopback and IPv4-compatible (deprecated) addresses
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x64 && s[1] == 0xff9b) // 64:ff9b:1::/48, local-use NAT64
                || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
                || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32 (an obfuscated IPv4 inside)
                || (s[0] == 0x2001 && s[1] == 0xdb8)) // documentation
        }
    }
}

/// Loopback, the one non-public destination sandbox allows (SPEC §1).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Whether webhooks may reach `ip` in `environment`: public addresses, and loopback in
/// sandbox; never private, link-local, metadata or reserved addresses.
pub fn is_allowed(ip: IpAddr, environment: Environment) -> bool {
    is_public(ip) || (!environment.is_production() && is_loopback(ip))
}

/// Resolves names and refuses the host when any of its addresses is not
/// [allowed](is_allowed) in the environment (checked at connect time, so a DNS answer
/// that changes after validation cannot slip through).
#[derive(Debug)]
struct GuardedResolver {
    environment: Environment,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let environment = self.environment;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| !is_allowed(a.ip(), environment)) {
                return Err(Box::new(Blocked) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[derive(Debug)]
struct Blocked;
impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("blocked: the host resolves to a private, link-local, metadata or reserved address (or loopback, in production)")
    }
}
impl std::error::Error for Blocked {}

/// The failure class of a transport error (SPEC §6), with a readable detail.
fn classify(err: &reqwest::Error) -> (&'static str, String) {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        chain.push_str(&e.to_string());
        chain.push_str(": ");
        source = e.source();
    }
    let lower = format!("{chain} {err:?}").to_lowercase();
    let class = if lower.contains("blocked:") {
        "blocked"
    } else if err.is_timeout() || lower.contains("timed out") {
        "timeout"
    } else if lower.contains("dns error") || lower.contains("failed to lookup") || lower.contains("name or service not known") || lower.contains("no address") {
        "dns"
    } else if lower.contains("connection refused") {
        "connection_refused"
    } else if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("rustls")
        || lower.contains("handshake")
        || lower.contains("corrupt message")
    {
        "tls"
    } else {
        "other"
    };
    (class, chain.trim_end_matches(": ").chars().take(500).collect())
}

#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    body: Option<String>,
    retry_after: Option<Duration>,
    failure: Option<(&'static str, String)>,
    duration_ms: i64,
}

/// A delivery ready to send: signed, with what recording its outcome needs.
struct Prepared {
    job: Job,
    delivery_id: String,
    trigger: String,
    workspace_id: String,
    endpoint_id: String,
    url: String,
    payload: String,
    headers: serde_json::Value,
    timestamp: i64,
    signature: String,
    attempts_before: i64,
    failing_since: Option<i64>,
}

/// The deliveries of a batch of jobs with their endpoints, in one query, by delivery id.
async fn load_all(db: &crate::store::Db, jobs: &[Job]) -> Result<std::collections::HashMap<String, sqlx::any::AnyRow>, AppError> {
    let ids: Vec<&str> = jobs.iter().map(|j| j.payload["delivery_id"].as_str().unwrap_or_default()).collect();
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT d.id, d.workspace_id, d.endpoint_id, d.payload, d.attempts, e.url, e.active, e.secret_enc, e.previous_secret_enc, e.previous_secret_until, e.failing_since \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.into_iter().map(|row| Ok((row.try_get::<String, _>("id")?, row))).collect()
}

/// Signs one delivery (its row from [`load_all`]); `None` when there is nothing to send
/// (the endpoint is gone or inactive: the delivery is closed and the job completed).
async fn prepare(state: &AppState, job: Job, row: Option<&sqlx::any::AnyRow>, worker: &str) -> Result<Option<Prepared>, AppError> {
    let db = &state.db;
    let delivery_id = job.payload["delivery_id"].as_str().unwrap_or_default().to_string();
    let trigger = job.payload["trigger"].as_str().unwrap_or("automatic").to_string();
    let Some(row) = row else {
        jobs::complete(db.pool(), &job.id, worker).await?;
        return Ok(None);
    };
    if row.try_get::<i64, _>("active")? == 0 {
        // Inactive endpoints receive nothing.
        sqlx::query("UPDATE webhook_deliveries SET status = 'canceled', next_attempt_at = NULL, updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(&delivery_id)
            .execute(db.pool())
            .await?;
        jobs::complete(db.pool(), &job.id, worker).await?;
        return Ok(None);
    }
    let payload: String = row.try_get("payload")?;
    // Sign with the current secret and, during a rotation window, the previous one too.
    let timestamp = now_ms() / 1000;
    let mut secrets = vec![open_secret(&state.files.master, &row.try_get::<String, _>("secret_enc")?)?];
    let previous: Option<String> = row.try_get("previous_secret_enc")?;
    let previous_until: Option<i64> = row.try_get("previous_secret_until")?;
    if let (Some(previous), Some(until)) = (previous, previous_until) {
        if until > now_ms() {
            secrets.push(open_secret(&state.files.master, &previous)?);
        }
    }
    let mut signatures = Vec::new();
    for secret in &secrets {
        let webhook = standardwebhooks::Webhook::new(secret).map_err(|e| AppError::internal("webhook secret", e))?;
        signatures.push(webhook.sign(&delivery_id, timestamp, payload.as_bytes()).map_err(|e| AppError::internal("signing a webhook", e))?);
    }
    let signature = signatures.join(" ");
    let headers = json!({
        "content-type": "application/json",
        "user-agent": "Attest-Webhooks/1",
        "webhook-id": delivery_id,
        "webhook-timestamp": timestamp.to_string(),
        "webhook-signature": signature,
    });
    Ok(Some(Prepared {
        job,
        delivery_id,
        trigger,
        workspace_id: row.try_get("workspace_id")?,
        endpoint_id: row.try_get("endpoint_id")?,
        url: row.try_get("url")?,
        payload,
        headers,
        timestamp,
        signature,
        attempts_before: row.try_get("attempts")?,
        failing_since: row.try_get("failing_since")?,
    }))
}

/// Runs a batch of `deliver_webhook` jobs: every request in parallel, then every outcome
/// recorded in one transaction (attempt log, delivery, endpoint health, job).
#[tracing::instrument(name = "job.deliver_webhooks", skip_all, fields(jobs = batch.len()))]
pub async fn run_batch(state: &AppState, deliverer: &Deliverer, batch: Vec<Job>, worker: &str) -> Result<(), AppError> {
    let mut prepared = Vec::with_capacity(batch.len());
    let rows = load_all(&state.db, &batch).await?;
    for job in batch {
        let job_id = job.id.clone();
        let row = rows.get(job.payload["delivery_id"].as_str().unwrap_or_default());
        match prepare(state, job.clone(), row, worker).await {
            Ok(Some(p)) => prepared.push(p),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, job = %job_id, "preparing a webhook failed; retrying later");
                jobs::fail(state.db.pool(), &job, worker, &e.to_string(), jobs::backoff_ms(job.attempts)).await?;
            }
        }
    }
    let mut sending = tokio::task::JoinSet::new();
    for (index, p) in prepared.iter().enumerate() {
        let (deliverer, url, id, signature, payload, ts) =
            (deliverer.clone(), p.url.clone(), p.delivery_id.clone(), p.signature.clone(), p.payload.clone(), p.timestamp);
        sending.spawn(async move { (index, send(&deliverer, &url, &id, ts, &signature, &payload).await) });
    }
    let mut outcomes: Vec<Option<Outcome>> = (0..prepared.len()).map(|_| None).collect();
    while let Some(done) = sending.join_next().await {
        if let Ok((index, outcome)) = done {
            outcomes[index] = Some(outcome);
        }
    }

    // Every outcome in one batch (one round trip on SQLite); endpoints to disable after.
    let mut batch = Batch::new();
    let mut to_disable = Vec::new();
    for (p, outcome) in prepared.iter().zip(outcomes) {
        let outcome = outcome.unwrap_or(Outcome {
            status: None,
            body: None,
            retry_after: None,
            failure: Some(("other", "the sending task failed".into())),
            duration_ms: 0,
        });
        if let Some(reason) = record_into(&mut batch, deliverer, p, &outcome, worker) {
            to_disable.push((p, reason));
        }
    }
    batch.commit(&state.db).await?;
    let mut disabled = Vec::new();
    for (p, reason) in to_disable {
        if disable(state, p, &reason).await? {
            disabled.push((p.workspace_id.clone(), p.url.clone(), reason));
        }
    }
    for (workspace_id, url, reason) in disabled {
        notify_owners(state, &workspace_id, &url, &reason).await;
    }
    Ok(())
}

/// Adds one outcome's statements to `batch`: the attempt, the delivery, the endpoint's
/// health and the job. Returns a reason when the endpoint is to be disabled.
fn record_into(batch: &mut Batch, deliverer: &Deliverer, p: &Prepared, outcome: &Outcome, worker: &str) -> Option<String> {
    let succeeded = outcome.failure.is_none();
    let attempts = p.attempts_before + 1;
    let now = now_ms();
    let gone = outcome.status == Some(410);
    let retry = if succeeded || gone || p.trigger != "automatic" {
        None
    } else {
        deliverer.next_delay(attempts).map(|d| outcome.retry_after.map_or(d, |r| r.max(d)).as_millis() as i64)
    };
    let status = if succeeded {
        "succeeded"
    } else if retry.is_some() {
        "pending"
    } else {
        "failed"
    };
    batch.push(
        Statement::new(
            "INSERT INTO webhook_attempts (id, delivery_id, workspace_id, trigger, url, request_headers, request_body, response_status, response_body, duration_ms, failure_class, failure_detail, attempted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(new_id("att"))
        .bind(&p.delivery_id)
        .bind(&p.workspace_id)
        .bind(&p.trigger)
        .bind(&p.url)
        .bind(p.headers.to_string())
        .bind(&p.payload)
        .bind(outcome.status.map(i64::from))
        .bind(outcome.body.clone())
        .bind(outcome.duration_ms)
        .bind(outcome.failure.as_ref().map(|f| f.0))
        .bind(outcome.failure.as_ref().map(|f| f.1.clone()))
        .bind(now),
    );
    batch.push(
        Statement::new("UPDATE webhook_deliveries SET attempts = $1, status = $2, next_attempt_at = $3, updated_at = $4 WHERE id = $5")
            .bind(attempts)
            .bind(status)
            .bind(retry.map(|r| now + r))
            .bind(now)
            .bind(&p.delivery_id),
    );
    if let Some(entry) = history_statement(p, outcome, attempts, status, now) {
        batch.push(entry);
    }
    let mut disable_reason = None;
    if succeeded {
        if p.failing_since.is_some() {
            batch.push(Statement::new("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1").bind(&p.endpoint_id));
        }
    } else if gone {
        disable_reason = Some("The endpoint answered 410 Gone.".to_string());
    } else {
        match p.failing_since {
            None => batch
                .push(Statement::new("UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2 AND failing_since IS NULL").bind(now).bind(&p.endpoint_id)),
            Some(since) if now - since > deliverer.disable_after.as_millis() as i64 => {
                disable_reason = Some(format!("Deliveries failed for {} days.", deliverer.disable_after.as_secs() / 86_400));
            }
            Some(_) => {}
        }
    }
    batch.push(match retry {
        Some(delay) => jobs::fail_statement(&p.job, worker, outcome.failure.as_ref().map(|f| f.1.as_str()).unwrap_or("failed"), delay),
        None => jobs::complete_statement(&p.job.id, worker),
    });
    disable_reason
}

/// The history entry of one attempt to deliver an event about a verification or one of
/// its documents (SPEC §3: the history records each webhook sent): `webhook.delivered`
/// or `webhook.failed`, by the system, in the batch that records the attempt. None for
/// events about nothing in a verification (`webhook.test`).
fn history_statement(p: &Prepared, outcome: &Outcome, attempt: i64, status: &str, now: i64) -> Option<Statement> {
    let payload: serde_json::Value = serde_json::from_str(&p.payload).ok()?;
    let event_type = payload["type"].as_str()?;
    let object = &payload["data"]["object"];
    let (verification_id, document_id) = match event_type.split_once('.')?.0 {
        "verification" => (object["id"].as_str()?, None),
        "document" => (object["verification_id"].as_str()?, object["id"].as_str()),
        _ => return None,
    };
    let event = if outcome.failure.is_none() { "webhook.delivered" } else { "webhook.failed" };
    let data = json!({
        "delivery_id": p.delivery_id,
        "event_id": payload["id"],
        "event_type": event_type,
        // The endpoint by id only: its URL may carry a credential, and the history is
        // read by more people (verifications.view) than the delivery log (webhooks.view).
        "endpoint_id": p.endpoint_id,
        "trigger": p.trigger,
        "attempt": attempt,
        "response_status": outcome.status,
        "failure_class": outcome.failure.as_ref().map(|f| f.0),
        "will_retry": status == "pending",
    });
    Some(
        Statement::new(
            "INSERT INTO history (id, workspace_id, verification_id, document_id, event, actor_kind, actor_id, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'system', NULL, $6, $7)",
        )
        .bind(new_id("hst"))
        .bind(&p.workspace_id)
        .bind(verification_id)
        .bind(document_id)
        .bind(event)
        .bind(data.to_string())
        .bind(now),
    )
}

/// Turns an endpoint off with `reason`; whether this call did it (it may already be off).
async fn disable(state: &AppState, p: &Prepared, reason: &str) -> Result<bool, AppError> {
    let mut tx = state.db.begin_write().await?;
    let changed = sqlx::query("UPDATE webhook_endpoints SET active = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4 AND active = 1")
        .bind(0i64)
        .bind(reason)
        .bind(now_ms())
        .bind(&p.endpoint_id)
        .execute(&mut *tx)
        .await?;
    if changed.rows_affected() == 0 {
        return Ok(false);
    }
    metrics::counter!("attest_webhook_endpoints_disabled_total").increment(1);
    crate::activity::record(
        &mut *tx,
        crate::activity::Entry {
            workspace_id: Some(&p.workspace_id),
            actor: &crate::access::Actor::System,
            action: "webhook.endpoint_disabled",
            target: Some(&p.endpoint_id),
            detail: Some(json!({ "reason": reason })),
        },
        &crate::activity::RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// [`send_once`], counted and timed by outcome class (`attest_webhook_deliveries_total`).
async fn send(deliverer: &Deliverer, url: &str, id: &str, timestamp: i64, signature: &str, payload: &str) -> Outcome {
    let outcome = send_once(deliverer, url, id, timestamp, signature, payload).await;
    let class = match (outcome.status, outcome.failure.as_ref().map(|f| f.0)) {
        (Some(status), _) => ["1xx", "2xx", "3xx", "4xx", "5xx"].get((status / 100).saturating_sub(1) as usize).copied().unwrap_or("5xx"),
        (None, Some("connection_refused")) => "connection",
        (None, Some(class @ ("timeout" | "dns" | "tls" | "blocked"))) => class,
        (None, _) => "other",
    };
    metrics::counter!("attest_webhook_deliveries_total", "outcome" => class).increment(1);
    metrics::histogram!("attest_webhook_delivery_duration_seconds", "outcome" => class).record(outcome.duration_ms as f64 / 1000.0);
    outcome
}

async fn send_once(deliverer: &Deliverer, url: &str, id: &str, timestamp: i64, signature: &str, payload: &str) -> Outcome {
    let started = Instant::now();
    let elapsed = |s: Instant| s.elapsed().as_millis() as i64;
    // IP literals skip DNS, so the guard checks them here.
    let literal =
        reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string())).and_then(|h| h.parse::<IpAddr>().ok());
    if literal.is_some_and(|ip| !is_allowed(ip, deliverer.environment)) || (deliverer.environment.is_production() && !url.starts_with("https://")) {
        return Outcome { status: None, body: None, retry_after: None, failure: Some(("blocked", Blocked.to_string())), duration_ms: 0 };
    }
    let response = deliverer
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(payload.to_string())
        .send()
        .await;
    match response {
        Ok(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|_| status.as_u16() == 429 || status.as_u16() == 503)
                .map(Duration::from_secs);
            let body = read_body_prefix(response, MAX_LOGGED_BODY).await;
            let failure = (!status.is_success()).then(|| {
                let detail = if status.is_redirection() { format!("HTTP {status}: redirects are not followed") } else { format!("HTTP {status}") };
                ("http_status", detail)
            });
            Outcome { status: Some(status.as_u16()), body: Some(body), retry_after, failure, duration_ms: elapsed(started) }
        }
        Err(e) => Outcome { status: None, body: None, retry_after: None, failure: Some(classify(&e)), duration_ms: elapsed(started) },
    }
}

/// The most of a response body read and logged.
const MAX_LOGGED_BODY: usize = 4096;

/// Reads at most `limit` bytes of the body, chunk by chunk, and drops the rest unread (a
/// receiver may answer with a huge or endless body); lossy UTF-8, cut to `limit` bytes.
async fn read_body_prefix(mut response: reqwest::Response, limit: usize) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk[..chunk.len().min(limit - bytes.len())]),
            Ok(None) | Err(_) => break,
        }
    }
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// Tells the workspace's owners and admins that an endpoint was turned off.
async fn notify_owners(state: &AppState, workspace_id: &str, url: &str, reason: &str) {
    let owners: Vec<String> =
        sqlx::query_scalar("SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.role IN ('owner', 'admin')")
            .bind(workspace_id)
            .fetch_all(state.db.pool())
            .await
            .unwrap_or_else(|e| {
                tracing::error!(workspace = %workspace_id, error = %e, "could not look up whom to tell that a webhook endpoint was disabled");
                Vec::new()
            });
    for to in owners {
        let mail = crate::mail::Email {
            to,
            subject: "An Attest webhook endpoint was disabled".into(),
            body: format!(
                "Attest stopped sending webhooks to {url}.\n\nReason: {reason}\n\nFix the endpoint, then turn it back on in the dashboard (Webhooks).\n"
            ),
        };
        if let Err(e) = state.mailer.send(mail).await {
            tracing::warn!(error = %e, "could not tell owners about a disabled endpoint");
        }
    }
}

/// The job kinds this module handles.
pub const KINDS: [&str; 1] = [DELIVER_JOB];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter() {
        let d = Deliverer::new(Environment::Sandbox, Duration::from_secs(1), DEFAULT_SCHEDULE_SECS.iter().map(|s| Duration::from_secs(*s)).collect()).unwrap();
        assert_eq!(d.next_delay(0), Some(Duration::ZERO));
        let five = d.next_delay(1).unwrap().as_millis();
        assert!((4500..=5500).contains(&five), "{five}");
        assert!(d.next_delay(8).is_none(), "eight attempts, then failed");
    }

    #[tokio::test]
    async fn production_refuses_private_destinations_at_connect_time() {
        let production = Deliverer::new(Environment::Production, Duration::from_secs(2), vec![Duration::ZERO]).unwrap();
        for url in ["https://127.0.0.1:1/hook", "https://[::1]:1/hook", "https://169.254.169.254/latest", "https://localhost:1/hook", "http://example.com/hook"]
        {
            let outcome = send(&production, url, "msg_1", 0, "v1,x", "{}").await;
            assert_eq!(outcome.failure.as_ref().map(|f| f.0), Some("blocked"), "{url}: {:?}", outcome.failure);
        }
        let sandbox = Deliverer::new(Environment::Sandbox, Duration::from_secs(2), vec![Duration::ZERO]).unwrap();
        let outcome = send(&sandbox, "http://127.0.0.1:1/hook", "msg_1", 0, "v1,x", "{}").await;
        assert_eq!(outcome.failure.as_ref().map(|f| f.0), Some("connection_refused"), "sandbox allows loopback");
    }

    #[test]
    fn special_ranges_that_embed_or_reach_private_networks_are_not_public() {
        for ip in [
            "::ffff:10.0.0.1",        // IPv4-mapped private
            "::ffff:169.254.169.254", // IPv4-mapped metadata
            "::10.0.0.1",             // IPv4-compatible
            "::8.8.8.8",              // IPv4-compatible, deprecated whatever it embeds
            "64:ff9b::10.0.0.1",      // NAT64 to a private address
            "64:ff9b::a9fe:a9fe",     // NAT64 to 169.254.169.254
            "64:ff9b:1::1",           // local-use NAT64
            "2002:0a00:0001::1",      // 6to4 of 10.0.0.1
            "2002:7f00:0001::1",      // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::",       // 6to4 of 169.254.169.254
            "2001:0:4136:e378::1",    // Teredo
            "2001:db8::1",            // documentation
            "fec0::1",                // site-local
            "198.18.0.1",             // benchmarking 198.18.0.0/15
            "198.19.255.254",
            "192.0.0.1", // IETF protocol assignments 192.0.0.0/24
            "192.0.0.170",
            "192.88.99.1", // 6to4 relay anycast
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:0808:0808::1", "198.20.0.1", "192.0.1.1", "2a00:1450:4001::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn sandbox_refuses_private_and_link_local_destinations_but_allows_loopback() {
        let sandbox = Deliverer::new(Environment::Sandbox, Duration::from_secs(2), vec![Duration::ZERO]).unwrap();
        for url in [
            "http://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/latest",
            "http://192.168.1.1/",
            "http://0.0.0.0:1/hook",
        ] {
            let outcome = send(&sandbox, url, "msg_1", 0, "v1,x", "{}").await;
            assert_eq!(outcome.failure.as_ref().map(|f| f.0), Some("blocked"), "{url}: {:?}", outcome.failure);
        }
        // Names are checked on every resolved address at connect time.
        use reqwest::dns::Resolve as _;
        let resolver = GuardedResolver { environment: Environment::Sandbox };
        for name in ["10.0.0.1", "169.254.169.254"] {
            assert!(resolver.resolve(name.parse().unwrap()).await.is_err(), "{name}");
        }
        assert!(resolver.resolve("localhost".parse().unwrap()).await.is_ok());
        for url in ["http://127.0.0.1:1/hook", "http://localhost:1/hook", "http://[::1]:1/hook"] {
            let outcome = send(&sandbox, url, "msg_1", 0, "v1,x", "{}").await;
            assert_eq!(outcome.failure.as_ref().map(|f| f.0), Some("connection_refused"), "{url}: sandbox allows loopback");
        }
    }

    /// A receiver on loopback that answers 200 with `body_chunk` repeated forever (or
    /// `repeat` times, with a content-length); returns its port.
    async fn endless_receiver(body_chunk: &'static [u8], repeat: Option<usize>) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let head = match repeat {
                        Some(n) => format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", n * body_chunk.len()),
                        None => "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_string(),
                    };
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let mut sent = 0;
                    while repeat.is_none_or(|n| sent < n) {
                        if socket.write_all(body_chunk).await.is_err() {
                            return;
                        }
                        sent += 1;
                    }
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn a_huge_or_endless_response_body_is_read_only_up_to_4_kb() {
        let sandbox = Deliverer::new(Environment::Sandbox, Duration::from_secs(20), vec![Duration::ZERO]).unwrap();
        // Never ends: the delivery still completes, long before the timeout.
        let port = endless_receiver(b"0123456789abcdef", None).await;
        let outcome = tokio::time::timeout(Duration::from_secs(5), send(&sandbox, &format!("http://127.0.0.1:{port}/hook"), "msg_1", 0, "v1,x", "{}"))
            .await
            .expect("the delivery completes without reading the whole body");
        assert_eq!(outcome.status, Some(200), "{:?}", outcome.failure);
        let body = outcome.body.unwrap();
        assert_eq!(body.len(), 4096);
        assert!(body.starts_with("0123456789abcdef"));
        // 64 MB of three-byte characters: at most 4 KB logged, cut on a character boundary.
        let port = endless_receiver("€€€€€€€€€€€€€€€€".as_bytes(), Some(64 * 1024 * 1024 / 48)).await;
        let outcome =
            tokio::time::timeout(Duration::from_secs(5), send(&sandbox, &format!("http://127.0.0.1:{port}/hook"), "msg_1", 0, "v1,x", "{}")).await.unwrap();
        let body = outcome.body.unwrap();
        assert!(body.len() <= 4096 && body.len() > 4000, "{}", body.len());
        assert!(body.chars().all(|c| c == '€'));
    }

    /// Run in a child process of this test binary with HTTP(S)_PROXY set (the variables
    /// are read when the client is built; setting them here would leak into other tests).
    #[tokio::test]
    async fn proxy_environment_variables_are_ignored() {
        use tokio::io::AsyncReadExt;
        if std::env::var("ATTEST_TEST_PROXY_CHILD").is_err() {
            // The "proxy": records whether anything connected to it.
            let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let proxy_url = format!("http://127.0.0.1:{}", proxy.local_addr().unwrap().port());
            let used = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = used.clone();
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = proxy.accept().await {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    let mut buf = [0u8; 1024];
                    let _ = socket.read(&mut buf).await;
                }
            });
            let child = tokio::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "webhooks::deliver::tests::proxy_environment_variables_are_ignored", "--nocapture"])
                .env("ATTEST_TEST_PROXY_CHILD", "1")
                .env("HTTP_PROXY", &proxy_url)
                .env("http_proxy", &proxy_url)
                .env("HTTPS_PROXY", &proxy_url)
                .env("ALL_PROXY", &proxy_url)
                .env_remove("NO_PROXY")
                .env_remove("no_proxy")
                .output()
                .await
                .unwrap();
            let stdout = String::from_utf8_lossy(&child.stdout);
            assert!(child.status.success() && stdout.contains("1 passed"), "{stdout}\n{}", String::from_utf8_lossy(&child.stderr));
            assert!(!used.load(std::sync::atomic::Ordering::SeqCst), "the delivery went through the proxy");
            return;
        }
        let sandbox = Deliverer::new(Environment::Sandbox, Duration::from_secs(5), vec![Duration::ZERO]).unwrap();
        let port = endless_receiver(b"ok", Some(1)).await;
        let outcome = send(&sandbox, &format!("http://127.0.0.1:{port}/hook"), "msg_1", 0, "v1,x", "{}").await;
        assert_eq!((outcome.status, outcome.body.as_deref()), (Some(200), Some("ok")), "{:?}", outcome.failure);
    }
}
