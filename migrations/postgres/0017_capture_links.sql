-- Applicant capture links (issue 18): a link that lets the applicant upload their own
-- documents at /c/{token}. Only the SHA-256 of the token is stored. A front side waiting
-- for its back (a licence photographed in two steps) is kept, encrypted, in the blob
-- store under `pending_blob` until the back arrives.
CREATE TABLE capture_links (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    verification_id TEXT NOT NULL REFERENCES verifications(id) ON DELETE CASCADE,
    token_sha256 TEXT NOT NULL UNIQUE,
    redirect_url TEXT,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    consented_at BIGINT,
    opened_at BIGINT,
    completed_at BIGINT,
    pending_type TEXT,
    pending_blob TEXT,
    created_by_kind TEXT NOT NULL,
    created_by_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX capture_links_by_verification ON capture_links (verification_id, id);
