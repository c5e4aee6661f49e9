//! What every request handler and server function can reach.

use crate::{documents::blobs::DocumentFiles, store::Db};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::{fmt, str::FromStr, sync::Arc};

/// The environment an instance runs in (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Sandbox,
    Production,
}

impl Environment {
    pub fn is_production(self) -> bool {
        self == Environment::Production
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sandbox" => Ok(Environment::Sandbox),
            "production" => Ok(Environment::Production),
            other => Err(format!("must be 'sandbox' or 'production', not '{other}'")),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        })
    }
}

/// Settings the services need at run time (a subset of the server's configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub mfa_required: bool,
    pub lockout: crate::auth::lockout::LockoutPolicy,
    /// Where links in emails point (invitations), e.g. `https://attest.example.com`.
    pub public_url: String,
    /// Whether `attest serve` runs the job workers itself (off when dedicated
    /// `attest worker` processes do).
    pub in_process_workers: bool,
    /// How long a worker holds a job before another may take it over (ms).
    pub job_lease_ms: i64,
    /// Load balancers whose `X-Forwarded-For` names the client (see
    /// [`crate::auth::client_ip`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The outbox the sandbox mailbox page shows, when it is on (see [`crate::sandbox`]).
    pub sandbox_mailbox: Option<std::path::PathBuf>,
}

/// Shared by every request: cloned per request and per middleware, so one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}

/// What [`AppState`] holds.
pub struct Services {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub settings: Arc<Settings>,
    pub files: DocumentFiles,
    pub mailer: Arc<dyn crate::mail::Mailer>,
    /// Password-check slots: a sign-in flood is answered 429 instead of queueing hashes.
    pub hashing: Arc<crate::auth::password::Slots>,
    pub deliverer: Arc<crate::webhooks::deliver::Deliverer>,
    pub pipeline: crate::pipeline::Pipeline,
    /// The API's operations, from the server's OpenAPI document.
    pub api_reference: Arc<Vec<crate::reference::ApiOperation>>,
}

impl AppState {
    /// The state inside a server function (provided by `leptos_routes_with_context`).
    pub fn from_context() -> Result<AppState, crate::error::AppError> {
        leptos::prelude::use_context::<AppState>().ok_or_else(|| crate::error::AppError::internal("state", "AppState missing from context"))
    }
}
