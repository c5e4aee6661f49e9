-- Tenancy: workspaces, global users, memberships with a role per workspace (SPEC §1).
-- Timestamps are Unix milliseconds; ids are prefixed text.

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    rate_limit_per_minute BIGINT NOT NULL DEFAULT 600,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,          -- normalized: trimmed, lower case
    password_hash TEXT,                  -- argon2id PHC string; NULL until an invitation is accepted
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    display_prefix TEXT NOT NULL,        -- e.g. att_test_AbC1, shown in lists
    token_hash TEXT NOT NULL UNIQUE,     -- SHA-256 hex of the whole token
    scopes TEXT NOT NULL,                -- space-separated
    created_by_kind TEXT NOT NULL,
    created_by_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_workspace ON api_tokens(workspace_id);

-- Dashboard sessions (tower-sessions records); user_id lets a user end their other sessions.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- Append-only activity log (SPEC §8).
CREATE TABLE activity (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    target TEXT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX activity_workspace_time ON activity(workspace_id, created_at);
