-- A sign-in email change asked for by an administrator: it takes effect only when the
-- link mailed to the new address is used (SPEC §2). The token is stored hashed.
CREATE TABLE email_changes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id TEXT REFERENCES workspaces(id) ON DELETE SET NULL,
    new_email TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    requested_by TEXT,
    expires_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX email_changes_user ON email_changes(user_id);
CREATE INDEX api_tokens_creator ON api_tokens(workspace_id, created_by_id);
