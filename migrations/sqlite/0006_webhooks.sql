-- Jobs that spent their attempts stay visible; webhook endpoints, deliveries and attempts (SPEC §6).
ALTER TABLE jobs ADD COLUMN failed_at BIGINT;

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    event_types TEXT NOT NULL,            -- space-separated; '*' for all
    active BIGINT NOT NULL,               -- 1 active, 0 inactive
    secret_enc TEXT NOT NULL,             -- sealed with the master key
    previous_secret_enc TEXT,             -- during a rotation window
    previous_secret_until BIGINT,
    failing_since BIGINT,
    disabled_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints(workspace_id);

-- One event for one endpoint; its id is the webhook-id header, the same on every attempt.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,                 -- pending | succeeded | failed
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);

CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    trigger TEXT NOT NULL,                -- automatic | resend | test
    url TEXT NOT NULL,
    request_headers TEXT NOT NULL,        -- JSON
    request_body TEXT NOT NULL,
    response_status BIGINT,
    response_body TEXT,
    duration_ms BIGINT NOT NULL,
    failure_class TEXT,                   -- timeout | connection_refused | dns | tls | http_status | redirect | blocked | other
    failure_detail TEXT,
    attempted_at BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
