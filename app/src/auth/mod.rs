//! Dashboard authentication: sign-in, sign-out, the signed-in user.
//!
//! MFA, lockout and the per-IP throttle build on [`service::verify_credentials`] and on
//! the server-side session kept in the database.

pub mod page;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod session_store;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in user as the session and the UI know them. No secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: String,
    pub email: String,
}

/// Checks email and password, starts a fresh session and redirects to `next` (a local
/// path) or the home page. Wrong email and wrong password get the same error.
#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let origin = service::request_origin().await;
            let user = service::verify_credentials(&state.db, &email, &password, &origin).await?;
            service::start_session(user).await?;
            leptos_axum::redirect(&service::local_redirect_target(next.as_deref()));
            Ok(())
        }
        .await,
    )
}

/// Ends the session server-side and returns to the sign-in page.
#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    crate::error::respond(service::end_session().await)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in user, or `None`.
#[server(prefix = "/rpc", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    crate::error::respond(service::session_user().await)
}
