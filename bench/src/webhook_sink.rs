#![forbid(unsafe_code)]
//! `webhook_sink <addr>`: answers every webhook with 204 and records, per delivery, the
//! time from the event's `created_at` (written in the API request's transaction) to its
//! arrival here. `GET /stats` returns the count, the arrival span and latency percentiles;
//! `POST /reset` starts over.

use axum::{
    body::Bytes,
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Samples {
    latencies_ms: Vec<f64>,
    first_ms: Option<f64>,
    last_ms: f64,
}

type Shared = Arc<Mutex<Samples>>;

fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as f64 / 1000.0
}

async fn receive(State(samples): State<Shared>, body: Bytes) -> StatusCode {
    let arrived = now_ms();
    let created =
        serde_json::from_slice::<serde_json::Value>(&body).ok().and_then(|v| v["created_at"].as_str().map(str::to_string)).and_then(|t| chrono_ms(&t));
    let mut s = samples.lock().unwrap();
    if let Some(created) = created {
        s.latencies_ms.push(arrived - created);
    }
    s.first_ms.get_or_insert(arrived);
    s.last_ms = arrived;
    StatusCode::NO_CONTENT
}

/// Milliseconds of an RFC 3339 UTC time like `2026-11-25T23:09:18.356Z`.
fn chrono_ms(t: &str) -> Option<f64> {
    let (date, time) = t.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let frac_ms: f64 = format!("0.{frac}").parse::<f64>().ok()? * 1000.0;
    Some(((days * 86400 + h * 3600 + mi * 60 + s) * 1000) as f64 + frac_ms)
}

async fn stats(State(samples): State<Shared>) -> Json<serde_json::Value> {
    let s = samples.lock().unwrap();
    let mut l = s.latencies_ms.clone();
    l.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| if l.is_empty() { 0.0 } else { l[((l.len() as f64 - 1.0) * p).round() as usize] };
    Json(serde_json::json!({
        "count": l.len(),
        "span_ms": s.first_ms.map(|f| s.last_ms - f).unwrap_or(0.0),
        "p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99),
    }))
}

async fn reset(State(samples): State<Shared>) -> StatusCode {
    *samples.lock().unwrap() = Samples::default();
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    let samples: Shared = Default::default();
    let app = Router::new().route("/hook", post(receive)).route("/stats", get(stats)).route("/reset", post(reset)).with_state(samples);
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
