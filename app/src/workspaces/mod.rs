//! Workspaces, the tenants: the home page lists the signed-in user's workspaces.

pub mod overview;
pub mod page;
#[cfg(feature = "ssr")]
pub mod service;

use crate::{access::RoleRef, error::AppError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A workspace as its member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSummary {
    pub slug: String,
    pub name: String,
    pub role: RoleRef,
}

/// The workspaces the signed-in user belongs to.
#[server(prefix = "/rpc", endpoint = "my_workspaces")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.my_workspaces", skip_all))]
pub async fn my_workspaces() -> Result<Vec<WorkspaceSummary>, AppError> {
    crate::error::respond(
        async move {
            let user = crate::auth::service::require_user().await?;
            let state = crate::state::AppState::from_context()?;
            service::list_for_user(&state.db, &user.id).await
        }
        .await,
    )
}

/// One workspace of the signed-in user; 403 when they are not a member.
#[server(prefix = "/rpc", endpoint = "workspace")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.workspace", skip_all))]
pub async fn workspace(slug: String) -> Result<WorkspaceSummary, AppError> {
    crate::error::respond(
        async move {
            let user = crate::auth::service::require_user().await?;
            let state = crate::state::AppState::from_context()?;
            service::membership(&state.db, &user.id, &slug).await
        }
        .await,
    )
}
