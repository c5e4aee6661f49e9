-- A workspace's own roles: named sets of permissions (SPEC §1). memberships.role holds a
-- built-in role's code or a custom role's id.
CREATE TABLE custom_roles (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    permissions TEXT NOT NULL,           -- space-separated permission codes
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
