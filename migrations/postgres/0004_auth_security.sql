-- Dashboard security (SPEC §2): lockouts, the per-IP throttle, MFA challenges, TOTP,
-- recovery codes and invitations. Everything lives in the database so several server
-- processes share it.

ALTER TABLE users ADD COLUMN totp_secret_enc TEXT;        -- sealed with the master key
ALTER TABLE users ADD COLUMN totp_pending_enc TEXT;       -- enrollment not yet confirmed
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;       -- last accepted 30 s step: no reuse
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;

-- Failed sign-ins per normalized email, whether or not an account exists.
CREATE TABLE login_lockouts (
    email TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT,
    updated_at BIGINT NOT NULL
);

-- Failed sign-ins per client address in the current window.
CREATE TABLE login_ip_failures (
    ip TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL
);

CREATE TABLE mfa_challenges (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    method TEXT NOT NULL,                 -- email | totp
    code_hash TEXT,                       -- HMAC of the emailed code
    attempts BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    last_sent_at BIGINT,
    consumed_at BIGINT,
    voided_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX mfa_challenges_user ON mfa_challenges(user_id);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    invited_by TEXT,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE INDEX activity_action ON activity(action);
