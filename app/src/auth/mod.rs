//! Dashboard authentication: sign-in, sign-out, the signed-in user.
//!
//! MFA, lockout and the per-IP throttle build on [`service::verify_credentials`] and on
//! the server-side session kept in the database.

pub mod account_page;
#[cfg(feature = "ssr")]
pub mod client_ip;
#[cfg(feature = "ssr")]
pub mod lockout;
#[cfg(feature = "ssr")]
pub mod mfa;
pub mod mfa_page;
pub mod page;
#[cfg(feature = "ssr")]
pub mod password;
pub mod password_page;
#[cfg(feature = "ssr")]
pub mod passwords;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod session_store;
#[cfg(feature = "ssr")]
pub mod totp;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in user as the session and the UI know them. No secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: String,
    pub email: String,
    /// When the sign-in completed (ms): sessions end after an absolute lifetime.
    #[serde(default)]
    pub signed_in_at: i64,
}

/// Checks email and password (lockout and per-address throttle first), then either
/// starts the session or opens the MFA challenge and sends the browser to `/mfa`.
/// Wrong email and wrong password get the same error.
#[server(prefix = "/rpc", endpoint = "login")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.login", skip_all))]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let origin = service::request_origin().await;
            let next = service::local_redirect_target(next.as_deref());
            match service::sign_in(&state, &email, &password, &origin).await? {
                service::SignIn::Complete(user) => {
                    let landing = service::landing(&state.db, &user.id, &next).await?;
                    service::start_session(user).await?;
                    leptos_axum::redirect(&landing);
                }
                service::SignIn::NeedsMfa(pending) => {
                    service::start_mfa(service::PendingMfa { next, ..pending }).await?;
                    leptos_axum::redirect("/mfa");
                }
            }
            Ok(())
        }
        .await,
    )
}

/// Ends the session server-side and returns to the sign-in page.
#[server(prefix = "/rpc", endpoint = "logout")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.logout", skip_all))]
pub async fn logout() -> Result<(), AppError> {
    crate::error::respond(service::end_session().await)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in user, or `None`.
#[server(prefix = "/rpc", endpoint = "current_user")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.current_user", skip_all))]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    crate::error::respond(service::session_user().await)
}
