-- Sign-in hardening (issue #13): second-factor failures counted per user across
-- challenges, the per-address throttle that slows an address down instead of refusing
-- it, and single-use password-reset links.

-- Failed second-factor codes in the current one-hour window, and the lock they set
-- (lifted by an admin or `attest admin unlock`).
ALTER TABLE users ADD COLUMN mfa_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_window_start BIGINT;
ALTER TABLE users ADD COLUMN mfa_locked_at BIGINT;

-- Past the window's allowance an address may try once per interval: the next attempt's
-- earliest time.
ALTER TABLE login_ip_failures ADD COLUMN next_allowed_at BIGINT;

CREATE TABLE password_resets (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_resets_user ON password_resets(user_id);
