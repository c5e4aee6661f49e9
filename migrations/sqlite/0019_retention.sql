-- Retention and redaction (issue 17, part B): a workspace's retention period (documents
-- and extracted personal data are kept this many days after the box closes, or after a
-- rejection or cancellation; 365 when no row), a legal hold per verification that
-- suspends it, and the moment a verification was redacted (its documents destroyed,
-- its personal data replaced; the id, status and dates stay).

CREATE TABLE retention_policies (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    retention_days BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE verifications ADD COLUMN legal_hold BIGINT NOT NULL DEFAULT 0;
ALTER TABLE verifications ADD COLUMN legal_hold_reason TEXT;
ALTER TABLE verifications ADD COLUMN redacted_at BIGINT;
