//! Structured logs: `ATTEST_LOG` (or `RUST_LOG`) filters, `ATTEST_LOG_FORMAT=json` for
//! one JSON object per line. Every request runs in a span carrying its request id.

use tracing_subscriber::{fmt, EnvFilter};

pub fn init() {
    let filter = std::env::var("ATTEST_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("ATTEST_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    // try_init: tests start many apps in one process.
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.compact().try_init() };
}
