//! The check at the top of every workspace server function: who is signed in, are
//! they a member of this workspace, and does their role carry the permission.

use super::{Actor, Permission, RoleRef};
use crate::{auth::SessionUser, error::AppError, state::AppState};
use sqlx::Row;

/// A signed-in member acting in one workspace.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: SessionUser,
    pub workspace_id: String,
    pub role: RoleRef,
}

impl Member {
    pub fn actor(&self) -> Actor {
        Actor::User { id: self.user.id.clone(), workspace_id: self.workspace_id.clone(), role: self.role.clone() }
    }
}

/// 401 when signed out, 403 when not a member of `slug` or when the role lacks
/// `permission`. Every workspace server function starts here.
pub async fn require(state: &AppState, slug: &str, permission: Permission) -> Result<Member, AppError> {
    let user = crate::auth::service::require_user().await?;
    require_for(&state.db, user, slug, permission).await
}

/// [`require`] for a user already taken from the session (plain axum routes).
pub async fn require_for(db: &crate::store::Db, user: SessionUser, slug: &str, permission: Permission) -> Result<Member, AppError> {
    let row = sqlx::query(
        "SELECT m.workspace_id, m.role, cr.name AS custom_name, cr.permissions AS custom_permissions \
         FROM memberships m JOIN workspaces w ON w.id = m.workspace_id LEFT JOIN custom_roles cr ON cr.id = m.role \
         WHERE m.user_id = $1 AND w.slug = $2",
    )
    .bind(&user.id)
    .bind(slug)
    .fetch_optional(db.pool())
    .await?
    .ok_or(AppError::Forbidden)?;
    let role = super::roles::from_row(&row)?;
    role.require(permission)?;
    Ok(Member { user, workspace_id: row.try_get("workspace_id")?, role })
}
