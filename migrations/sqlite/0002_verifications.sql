-- Verifications, documents, their history, the event outbox, the job queue, flow
-- configuration and API idempotency records (SPEC §3–§6).

CREATE TABLE verifications (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    flow TEXT NOT NULL,
    status TEXT NOT NULL,
    reference TEXT,
    applicant TEXT NOT NULL,             -- JSON
    photo_id TEXT,                       -- JSON {type, country, number?}
    proof_of_address TEXT,               -- JSON {type, country}
    mailbox TEXT,                        -- JSON
    metadata TEXT NOT NULL DEFAULT '{}', -- JSON
    rules TEXT NOT NULL DEFAULT '[]',    -- JSON rule results
    selfie_score DOUBLE PRECISION,
    selfie_threshold DOUBLE PRECISION,
    decision_outcome TEXT,
    decision_reason TEXT,
    decision_by TEXT,
    decision_at BIGINT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX verifications_workspace_id ON verifications(workspace_id, id);
CREATE INDEX verifications_workspace_status ON verifications(workspace_id, status, id);
CREATE INDEX verifications_workspace_reference ON verifications(workspace_id, reference);

CREATE TABLE documents (
    id TEXT PRIMARY KEY NOT NULL,
    verification_id TEXT NOT NULL REFERENCES verifications(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    role TEXT NOT NULL,
    country TEXT NOT NULL,
    status TEXT NOT NULL,
    front_blob TEXT NOT NULL,
    front_media_type TEXT NOT NULL,
    front_size BIGINT NOT NULL,
    back_blob TEXT,
    back_media_type TEXT,
    back_size BIGINT,
    extracted TEXT,                      -- JSON
    failure_reason TEXT,
    decision_outcome TEXT,
    decision_reason TEXT,
    decision_by TEXT,
    decision_at BIGINT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX documents_verification ON documents(verification_id, id);

CREATE TABLE history (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    verification_id TEXT NOT NULL,
    document_id TEXT,
    event TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    data TEXT NOT NULL DEFAULT '{}',     -- JSON
    created_at BIGINT NOT NULL
);
CREATE INDEX history_verification ON history(verification_id, id);

-- Events written in the same transaction as the change they describe; webhook
-- delivery reads from here.
CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    object_version BIGINT NOT NULL,
    payload TEXT NOT NULL,               -- JSON
    created_at BIGINT NOT NULL
);
CREATE INDEX events_workspace ON events(workspace_id, id);

-- The durable job queue: leased by workers, retried with backoff.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,               -- JSON
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL DEFAULT 5,
    leased_until BIGINT,
    leased_by TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs(run_at);

CREATE TABLE flow_configs (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    flow TEXT NOT NULL,
    config TEXT NOT NULL,                -- JSON FlowConfig
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, flow)
);

CREATE TABLE idempotency_keys (
    workspace_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status BIGINT,
    response_body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
