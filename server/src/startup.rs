//! Start-up as a library: connect and migrate the database, build the router, serve on
//! a given listener. `main` stays small and tests bind port 0.

use crate::{
    api,
    config::{BlobStoreSetting, Config},
    middleware, worker,
};
use app::{
    auth::session_store::DbSessionStore,
    documents::blobs::{BlobStore, DocumentFiles, LocalBlobStore},
    mail::{Mailer, OutboxMailer, SmtpMailer},
    shell,
    state::{AppState, Services, Settings},
    store::Db,
    App,
};
use axum::{
    extract::State,
    http::{HeaderName, Request, StatusCode},
    response::IntoResponse,
    routing::get,
    Json, Router,
};
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tower_http::{
    compression::CompressionLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};

/// Connects to the configured database and applies migrations; a failure stops start-up.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    config.ensure_data_dir()?;
    let db = Db::connect(config.database_url()).await.map_err(|e| anyhow::anyhow!("cannot open the database (DATABASE_URL): {e}"))?;
    db.migrate().await.map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
    // PostgreSQL: other processes' job wake-ups and cache changes (LISTEN/NOTIFY).
    db.listen().await;
    Ok(db)
}

/// The configured document store (`ATTEST_BLOB_STORE`): the data directory or an S3 bucket.
pub fn blob_store(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match &config.blob_store {
        BlobStoreSetting::Fs => Arc::new(LocalBlobStore::new(config.data_dir.join("documents"))),
        BlobStoreSetting::S3(settings) => {
            Arc::new(app::documents::s3::S3BlobStore::new(settings).map_err(|e| anyhow::anyhow!("ATTEST_BLOB_STORE {}: {e}", settings.url()))?)
        }
    })
}

/// The state a serving or working process runs on. On PostgreSQL, call
/// [`Db::listen`] on its database first (see [`open_database`]).
pub fn app_state(config: &Config, db: Db) -> anyhow::Result<AppState> {
    let files = DocumentFiles { store: blob_store(config)?, master: config.master_key()? };
    db.use_master_key(&files.master);
    let leptos_options = LeptosOptions::builder()
        .output_name("attest")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .env(leptos::config::Env::PROD)
        .build();
    Ok(AppState::new(Services {
        leptos_options,
        db,
        settings: Arc::new(Settings {
            environment: config.environment,
            mfa_required: config.mfa_required,
            lockout: config.lockout,
            public_url: config.public_url.clone(),
            in_process_workers: config.in_process_workers,
            job_lease_ms: config.job_lease.as_millis() as i64,
            trusted_proxies: config.trusted_proxies.clone(),
            sandbox_mailbox: config.sandbox_mailbox_enabled().then(|| config.data_dir.join("outbox")),
        }),
        files,
        mailer: mailer(config)?,
        hashing: Arc::default(),
        deliverer: Arc::new(
            app::webhooks::deliver::Deliverer::new(config.environment, config.webhook_timeout, config.webhook_retry_schedule.clone())
                .map_err(anyhow::Error::msg)?,
        ),
        api_reference: Arc::new(api::openapi::operations()),
        pipeline: app::pipeline::Pipeline {
            provider: Arc::new(app::pipeline::provider::LocalProvider::load(&config.models_dir)),
            environment: config.environment,
        },
    }))
}

/// SMTP when configured (over TLS in production: `smtps://` or STARTTLS required);
/// otherwise (sandbox only) the local outbox under the data dir.
pub fn mailer(config: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    use secrecy::ExposeSecret;
    Ok(match &config.smtp_url {
        Some(url) if config.environment.is_production() && !app::mail::requires_tls(url.expose_secret()) => {
            anyhow::bail!("ATTEST_SMTP_URL: production requires smtps:// or smtp://…?tls=required (STARTTLS)")
        }
        Some(url) => Arc::new(SmtpMailer::new(url.expose_secret(), &config.mail_from).map_err(anyhow::Error::msg)?),
        None => Arc::new(OutboxMailer::new(config.data_dir.join("outbox"), &config.mail_from).map_err(anyhow::Error::msg)?),
    })
}

/// Who may read `/metrics`.
#[derive(Clone)]
pub struct MetricsAccess {
    /// SHA-256 of `ATTEST_METRICS_TOKEN`: the token itself is not kept.
    token_sha256: Option<[u8; 32]>,
    production: bool,
}

impl MetricsAccess {
    pub fn new(config: &Config) -> MetricsAccess {
        use secrecy::ExposeSecret;
        use sha2::Digest;
        MetricsAccess {
            token_sha256: config.metrics_token.as_ref().map(|t| sha2::Sha256::digest(t.expose_secret().as_bytes()).into()),
            production: config.environment.is_production(),
        }
    }

    /// With a token configured: exactly `Authorization: Bearer <token>`. Without one:
    /// loopback clients in sandbox, nobody in production.
    fn allows(&self, peer: std::net::IpAddr, headers: &http::HeaderMap) -> bool {
        use sha2::Digest;
        use subtle::ConstantTimeEq;
        match &self.token_sha256 {
            Some(expected) => headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .is_some_and(|given| bool::from(sha2::Sha256::digest(given.trim().as_bytes()).as_slice().ct_eq(expected))),
            None => !self.production && peer.is_loopback(),
        }
    }
}

/// The whole HTTP surface: dashboard (SSR + server functions), assets, REST API, probes.
pub fn router(state: AppState) -> Router {
    router_with(state, MetricsAccess { token_sha256: None, production: false }, std::time::Duration::from_secs(30 * 60))
}

/// [`router`] with the settings that only the HTTP layer needs.
pub fn router_with(state: AppState, metrics_access: MetricsAccess, session_idle: std::time::Duration) -> Router {
    crate::metrics::handle();
    let production = state.settings.environment.is_production();
    let trusted_proxies = std::sync::Arc::new(state.settings.trusted_proxies.clone());
    let session_layer = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(if production { "__Host-attest_session" } else { "attest_session" })
        .with_secure(production)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(session_idle.as_secs() as i64)));

    let routes = generate_route_list(App);
    let pkg_dir = std::path::Path::new(&*state.leptos_options.site_root).join("pkg");
    let request_id = HeaderName::from_static("x-request-id");

    let dashboard = Router::new()
        .route("/w/{slug}/documents/{doc_id}/{side}", get(crate::document_files::serve))
        .route("/w/{slug}/verifications/{id}/form-1583", get(crate::compliance_files::form_1583))
        .route("/w/{slug}/verifications/{id}/evidence", get(crate::compliance_files::evidence))
        .route("/w/{slug}/compliance/quarterly", get(crate::compliance_files::quarterly_report))
        .merge(crate::capture::routes())
        .leptos_routes_with_context(&state, routes, || (), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(session_idle, middleware::keep_session_alive))
        .layer(axum::middleware::from_fn(middleware::require_session_for_pages))
        .layer(axum::middleware::from_fn(middleware::reject_cross_site_writes))
        .layer(axum::middleware::from_fn_with_state(api::ratelimit::RateLimiter::for_db(&state.db), crate::capture::limit_per_link))
        .layer(session_layer);

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics).layer(axum::middleware::from_fn_with_state(metrics_access, guard_metrics)))
        .nest("/api/v1", api::router(state.clone(), api::ratelimit::RateLimiter::for_db(&state.db)))
        // Other API versions and paths: JSON 404s, never the dashboard's HTML.
        .route("/api", axum::routing::any(|| async { app::error::AppError::NotFound }))
        .route("/api/", axum::routing::any(|| async { app::error::AppError::NotFound }))
        .route("/api/{*rest}", axum::routing::any(|| async { app::error::AppError::NotFound }))
        .nest_service(
            "/pkg",
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache")))
                .service(ServeDir::new(pkg_dir).precompressed_gzip()),
        )
        .merge(dashboard)
        // Every matched route, by its template (`MatchedPath`), API and dashboard apart.
        .route_layer(axum::middleware::from_fn(crate::metrics::track_http))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(22 * 1024 * 1024))
        .layer(axum::middleware::from_fn_with_state(production, middleware::security_headers))
        .layer(CompressionLayer::new().gzip(true))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            // Paths only (never query strings), with the secret of a link redacted.
            let path = middleware::redact_path(request.uri().path());
            tracing::info_span!("request", request_id = %id, method = %request.method(), path = %path)
        }))
        .layer(SetRequestIdLayer::new(request_id, middleware::MakeRequestId))
        // First of all: a client's request id is kept only when well formed.
        .layer(axum::middleware::from_fn(middleware::drop_malformed_request_id))
        // Every activity entry of the request records its client address and user agent.
        .layer(axum::middleware::from_fn_with_state(trusted_proxies, middleware::record_origin))
        // Cached reads may share the versions read since the request began (store::cache).
        .layer(axum::middleware::from_fn(|request: Request<axum::body::Body>, next: axum::middleware::Next| app::store::cache::in_request(next.run(request))))
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the database and the blob store answer. Missing extraction models do not
/// make the server unready (documents that need them go to a person), but are named.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let missing = state.pipeline.provider.missing_models();
    let models = if missing.is_empty() { serde_json::json!("ok") } else { serde_json::json!({ "missing": missing }) };
    let (database, blobs) =
        tokio::join!(tokio::time::timeout(Duration::from_secs(2), state.db.ping()), tokio::time::timeout(Duration::from_secs(2), state.files.store.check()));
    let database = match database {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            "error"
        }
        Err(_) => "timeout",
    };
    let blob_store = match blobs {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(error = %e, store = %state.files.store.describe(), "readiness: blob store unreachable");
            "error"
        }
        Err(_) => "timeout",
    };
    if database == "ok" && blob_store == "ok" {
        (StatusCode::OK, Json(serde_json::json!({ "status": "ready", "database": "ok", "blob_store": "ok", "models": models })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "unavailable", "database": database, "blob_store": blob_store })))
    }
}

/// `/metrics` for whom [`MetricsAccess`] allows; 404 for everyone else (as if absent).
async fn guard_metrics(
    State(access): State<MetricsAccess>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if access.allows(peer.ip(), request.headers()) {
        next.run(request).await
    } else {
        app::error::AppError::NotFound.into_response()
    }
}

/// Prometheus text: what the services recorded (see [`crate::metrics`]), the queue per
/// job kind, and the queue totals under their original names.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let content_type = [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")];
    let handle = crate::metrics::handle();
    let sampled = async {
        crate::metrics::sample_queues(&state.db).await?;
        app::jobs::stats(&state.db).await
    };
    match sampled.await {
        Ok(stats) => (
            StatusCode::OK,
            content_type,
            format!(
                "{}# HELP attest_jobs_queued Jobs waiting or running.\n# TYPE attest_jobs_queued gauge\nattest_jobs_queued {}\n\
                 # HELP attest_jobs_oldest_age_seconds Age of the oldest queued job.\n# TYPE attest_jobs_oldest_age_seconds gauge\nattest_jobs_oldest_age_seconds {:.3}\n\
                 # HELP attest_jobs_failed Jobs that spent every attempt.\n# TYPE attest_jobs_failed gauge\nattest_jobs_failed {}\n",
                handle.render(),
                stats.depth, stats.oldest_age_secs, stats.failed
            ),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, content_type, String::new())
        }
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, with the in-process workers.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let metrics_access = MetricsAccess { token_sha256: None, production: state.settings.environment.is_production() };
    serve_with(listener, state, metrics_access, std::time::Duration::from_secs(30 * 60), shutdown).await
}

/// [`serve`] with the HTTP layer's own settings from `config`.
pub async fn serve_configured(
    listener: TcpListener,
    state: AppState,
    config: &Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(listener, state, MetricsAccess::new(config), config.session_idle, shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    state: AppState,
    metrics_access: MetricsAccess,
    session_idle: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let workers = state.settings.in_process_workers.then(|| tokio::spawn(worker::run(state.clone())));
    let app = router_with(state, metrics_access, session_idle).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    if let Some(workers) = workers {
        workers.abort();
    }
    result.map_err(Into::into)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}
