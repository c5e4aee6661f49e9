//! Who may do what: built-in roles, permissions (SPEC §1) and API tokens.
//!
//! Roles and permissions are shared with the UI so navigation can hide what a role
//! cannot open; the checks that matter run on the server ([`Role::require`]).

#[cfg(feature = "ssr")]
pub mod member;
#[cfg(feature = "ssr")]
pub mod roles;
pub mod token_page;
#[cfg(feature = "ssr")]
pub mod tokens;

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// What an API token may do (SPEC §3): chosen when it is made, never more than its
/// creator's role allows ([`Scope::permission`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "verifications:read")]
    VerificationsRead,
    #[serde(rename = "verifications:write")]
    VerificationsWrite,
    #[serde(rename = "documents:read")]
    DocumentsRead,
    #[serde(rename = "decisions:write")]
    DecisionsWrite,
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
}

impl Scope {
    pub const ALL: [Scope; 5] = [Scope::VerificationsRead, Scope::VerificationsWrite, Scope::DocumentsRead, Scope::DecisionsWrite, Scope::WebhooksManage];

    /// As stored on the token and written in requests: `verifications:read`, …
    pub fn code(self) -> &'static str {
        match self {
            Scope::VerificationsRead => "verifications:read",
            Scope::VerificationsWrite => "verifications:write",
            Scope::DocumentsRead => "documents:read",
            Scope::DecisionsWrite => "decisions:write",
            Scope::WebhooksManage => "webhooks:manage",
        }
    }

    /// The permission a member needs to give a token this scope.
    pub fn permission(self) -> Permission {
        match self {
            Scope::VerificationsRead => Permission::VerificationsView,
            Scope::VerificationsWrite => Permission::VerificationsManage,
            Scope::DocumentsRead => Permission::DocumentsView,
            Scope::DecisionsWrite => Permission::VerificationsDecide,
            Scope::WebhooksManage => Permission::WebhooksManage,
        }
    }

    /// What it lets a token do, for the tokens page.
    pub fn help(self) -> &'static str {
        match self {
            Scope::VerificationsRead => "read verifications (verifications.view)",
            Scope::VerificationsWrite => "create, update, submit, cancel; upload documents (verifications.manage)",
            Scope::DocumentsRead => "download document images (documents.view)",
            Scope::DecisionsWrite => "approve or reject (verifications.decide)",
            Scope::WebhooksManage => "webhook endpoints and deliveries (webhooks.manage)",
        }
    }
}

impl FromStr for Scope {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|scope| scope.code() == s).ok_or(())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One thing a member may be allowed to do in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    VerificationsView,
    DocumentsView,
    VerificationsDecide,
    VerificationsManage,
    WebhooksView,
    WebhooksManage,
    ApiTokensManage,
    MembersManage,
    SettingsManage,
    ActivityView,
}

impl Permission {
    pub const ALL: [Permission; 10] = [
        Permission::VerificationsView,
        Permission::DocumentsView,
        Permission::VerificationsDecide,
        Permission::VerificationsManage,
        Permission::WebhooksView,
        Permission::WebhooksManage,
        Permission::ApiTokensManage,
        Permission::MembersManage,
        Permission::SettingsManage,
        Permission::ActivityView,
    ];

    /// The dotted name used in the spec and in custom role definitions.
    pub fn code(self) -> &'static str {
        match self {
            Permission::VerificationsView => "verifications.view",
            Permission::DocumentsView => "documents.view",
            Permission::VerificationsDecide => "verifications.decide",
            Permission::VerificationsManage => "verifications.manage",
            Permission::WebhooksView => "webhooks.view",
            Permission::WebhooksManage => "webhooks.manage",
            Permission::ApiTokensManage => "api_tokens.manage",
            Permission::MembersManage => "members.manage",
            Permission::SettingsManage => "settings.manage",
            Permission::ActivityView => "activity.view",
        }
    }
}

/// A built-in role (SPEC §1). Custom roles come with the members issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Reviewer,
    Developer,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Owner, Role::Admin, Role::Reviewer, Role::Developer, Role::Viewer];

    pub fn code(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    /// The permission table of SPEC §1.
    pub fn has(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner | Role::Admin => true,
            Role::Reviewer => matches!(permission, VerificationsView | DocumentsView | VerificationsDecide | VerificationsManage),
            Role::Developer => matches!(permission, VerificationsView | VerificationsManage | WebhooksView | WebhooksManage | ApiTokensManage | ActivityView),
            Role::Viewer => matches!(permission, VerificationsView),
        }
    }

    /// The server-side check every dashboard action goes through: 403 when missing.
    pub fn require(self, permission: Permission) -> Result<(), AppError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.code() == s)
            .ok_or_else(|| format!("unknown role '{s}' (expected one of owner, admin, reviewer, developer, viewer)"))
    }
}

/// A workspace's own role: a named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRole {
    /// `role_…`, stored in the membership.
    pub id: String,
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// The role a member holds: built-in or custom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleRef {
    Builtin(Role),
    Custom(CustomRole),
}

impl RoleRef {
    pub fn has(&self, permission: Permission) -> bool {
        match self {
            RoleRef::Builtin(role) => role.has(permission),
            RoleRef::Custom(custom) => custom.permissions.contains(&permission),
        }
    }

    /// 403 unless the role carries `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// What the membership stores: the built-in code or the custom role's id.
    pub fn code(&self) -> String {
        match self {
            RoleRef::Builtin(role) => role.code().to_string(),
            RoleRef::Custom(custom) => custom.id.clone(),
        }
    }

    /// What people read.
    pub fn label(&self) -> String {
        match self {
            RoleRef::Builtin(role) => role.code().to_string(),
            RoleRef::Custom(custom) => custom.name.clone(),
        }
    }

    pub fn builtin(&self) -> Option<Role> {
        match self {
            RoleRef::Builtin(role) => Some(*role),
            RoleRef::Custom(_) => None,
        }
    }
}

/// Who is acting: flows from every adapter into services, history and activity rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A member acting inside a workspace.
    User {
        id: String,
        workspace_id: String,
        role: RoleRef,
    },
    /// A user acting on their own account, outside any workspace (sign-in, MFA).
    Account {
        id: String,
    },
    ApiToken {
        id: String,
        workspace_id: String,
    },
    System,
    Operator,
    /// The applicant, through a capture link (no account; the link is who acted).
    Applicant {
        link_id: String,
        workspace_id: String,
    },
}

impl Actor {
    /// `(kind, id)` as stored in history and activity rows.
    pub fn kind_and_id(&self) -> (&'static str, Option<&str>) {
        match self {
            Actor::User { id, .. } | Actor::Account { id } => ("user", Some(id)),
            Actor::ApiToken { id, .. } => ("api_token", Some(id)),
            Actor::System => ("system", None),
            Actor::Operator => ("operator", None),
            Actor::Applicant { link_id, .. } => ("applicant", Some(link_id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_table_matches_the_spec() {
        use Permission::*;
        let expected: [(Role, &[Permission]); 5] = [
            (Role::Owner, &Permission::ALL),
            (Role::Admin, &Permission::ALL),
            (Role::Reviewer, &[VerificationsView, DocumentsView, VerificationsDecide, VerificationsManage]),
            (Role::Developer, &[VerificationsView, VerificationsManage, WebhooksView, WebhooksManage, ApiTokensManage, ActivityView]),
            (Role::Viewer, &[VerificationsView]),
        ];
        for (role, allowed) in expected {
            for permission in Permission::ALL {
                assert_eq!(role.has(permission), allowed.contains(&permission), "{role} / {}", permission.code());
                assert_eq!(role.require(permission).is_err(), !allowed.contains(&permission));
            }
        }
    }

    #[test]
    fn roles_round_trip_through_their_codes() {
        for role in Role::ALL {
            assert_eq!(role.code().parse::<Role>().unwrap(), role);
        }
        assert!("superuser".parse::<Role>().unwrap_err().contains("unknown role"));
    }
}
