//! The activity log (SPEC §8): who did what, to what, from where, when. Append-only;
//! the activity page (`activity.view`) filters it by actor, action, target and time.

pub mod page;
#[cfg(feature = "ssr")]
pub mod service;

#[cfg(feature = "ssr")]
pub use service::{in_request, record, statement, Entry, RequestOrigin};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    pub at: String,
    /// The acting user's email, or `api_token:…`, `system`, `operator`.
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// Filters of the activity page; every one optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityFilters {
    /// Part of the actor's e-mail or kind (`api_token`, `system`).
    pub actor: Option<String>,
    /// Start of the action (`login`, `member.`).
    pub action: Option<String>,
    /// Start of the target's id (`ver_…`, `usr_…`).
    pub target: Option<String>,
    /// First and last day (UTC), `YYYY-MM-DD`.
    pub from: Option<String>,
    pub to: Option<String>,
}
