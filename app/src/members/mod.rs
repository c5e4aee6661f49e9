//! Members of a workspace (`members.manage`): invite, change role, remove, unlock,
//! reset MFA, correct an email (confirmed from the new address); the invitation page
//! that sets a password and the page that confirms an email change.

pub mod page;
#[cfg(feature = "ssr")]
pub mod service;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub role: String,
    /// `email code` or `authenticator app`.
    pub mfa: String,
    pub locked_until: Option<String>,
    /// Too many wrong second-factor codes: only an unlock lifts it.
    pub mfa_locked: bool,
    pub joined: String,
    /// Live API tokens this member created here: revoked if they are removed.
    pub api_tokens: i64,
}

#[cfg(feature = "ssr")]
async fn admin(slug: &str) -> Result<(crate::state::AppState, crate::access::member::Member), AppError> {
    let state = crate::state::AppState::from_context()?;
    let member = crate::access::member::require(&state, slug, crate::access::Permission::MembersManage).await?;
    Ok((state, member))
}

#[server(prefix = "/rpc", endpoint = "list_members")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.list_members", skip_all))]
pub async fn list_members(slug: String) -> Result<Vec<MemberView>, AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            service::list(&state.db, &member.workspace_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "invite_member")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.invite_member", skip_all))]
pub async fn invite_member(slug: String, email: String, role: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            let role = crate::access::roles::resolve(&state.db, &member.workspace_id, &role).await?;
            let workspace = crate::workspaces::service::find_by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
            service::invite(&state.db, state.mailer.as_ref(), &state.settings.public_url, &workspace, &email, role, &member.actor()).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "change_member_role")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.change_member_role", skip_all))]
pub async fn change_member_role(slug: String, user_id: String, role: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            let role = crate::access::roles::resolve(&state.db, &member.workspace_id, &role).await?;
            service::change_role(&state.db, &member.workspace_id, &user_id, role, &member.actor()).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "remove_member")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.remove_member", skip_all))]
pub async fn remove_member(slug: String, user_id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            service::remove(&state.db, &member.workspace_id, &user_id, &member.actor()).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "unlock_member")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.unlock_member", skip_all))]
pub async fn unlock_member(slug: String, user_id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            service::unlock(&state.db, &member.workspace_id, &user_id, &member.actor()).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "reset_member_mfa")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.reset_member_mfa", skip_all))]
pub async fn reset_member_mfa(slug: String, user_id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            let email = service::list(&state.db, &member.workspace_id).await?.into_iter().find(|m| m.user_id == user_id).ok_or(AppError::NotFound)?.email;
            service::reset_mfa(&state.db, state.mailer.as_ref(), Some(&member.workspace_id), &email, &member.actor()).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "correct_member_email")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.correct_member_email", skip_all))]
pub async fn correct_member_email(slug: String, user_id: String, email: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            let workspace = crate::workspaces::service::find_by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
            service::request_email_change(
                &state.db,
                state.mailer.as_ref(),
                &state.settings.public_url,
                &member.workspace_id,
                &workspace.name,
                &user_id,
                &email,
                &member.actor(),
            )
            .await
        }
        .await,
    )
}

/// Uses an email-change link (public: the link in the new mailbox is the proof).
#[server(prefix = "/rpc", endpoint = "confirm_email_change")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.confirm_email_change", skip_all))]
pub async fn confirm_email_change(token: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            if token.len() > 100 {
                return Err(AppError::NotFound);
            }
            service::confirm_email_change(&state.db, &token).await.map(|_| ())
        }
        .await,
    )
}

/// A role a member can be given: `(value, label)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChoice {
    pub value: String,
    pub label: String,
    pub custom: bool,
    pub permissions: Vec<String>,
}

/// Built-in roles, then the workspace's custom roles.
#[server(prefix = "/rpc", endpoint = "list_roles")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.list_roles", skip_all))]
pub async fn list_roles(slug: String) -> Result<Vec<RoleChoice>, AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            let mut choices: Vec<RoleChoice> = crate::access::Role::ALL
                .into_iter()
                .map(|r| RoleChoice {
                    value: r.code().into(),
                    label: r.code().into(),
                    custom: false,
                    permissions: crate::access::Permission::ALL.into_iter().filter(|p| r.has(*p)).map(|p| p.code().to_string()).collect(),
                })
                .collect();
            for custom in crate::access::roles::list(&state.db, &member.workspace_id).await? {
                choices.push(RoleChoice {
                    value: custom.id,
                    label: custom.name,
                    custom: true,
                    permissions: custom.permissions.iter().map(|p| p.code().to_string()).collect(),
                });
            }
            Ok(choices)
        }
        .await,
    )
}

/// Creates a custom role from the checked permissions (`permissions[i]` form fields).
#[server(prefix = "/rpc", endpoint = "create_role")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.create_role", skip_all))]
pub async fn create_role(slug: String, name: String, permissions: Option<Vec<String>>) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            crate::access::roles::create(&state.db, &member.workspace_id, &name, &permissions.unwrap_or_default(), &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_role")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.delete_role", skip_all))]
pub async fn delete_role(slug: String, role_id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let (state, member) = admin(&slug).await?;
            crate::access::roles::delete(&state.db, &member.workspace_id, &role_id, &member.actor()).await
        }
        .await,
    )
}

/// Sets the password of an invited user; then they sign in.
#[server(prefix = "/rpc", endpoint = "accept_invitation")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.accept_invitation", skip_all))]
pub async fn accept_invitation(token: String, password: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            service::validate_password(&password)?;
            if token.len() > 100 {
                return Err(AppError::NotFound);
            }
            service::accept_invitation(&state.db, &token, &password).await?;
            leptos_axum::redirect("/login?invited=1");
            Ok(())
        }
        .await,
    )
}
