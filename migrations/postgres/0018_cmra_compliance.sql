-- CMRA compliance (issue 17, part A): the CMRA's own name and address (box 2 of PS Form
-- 1583), photo-ID expiry notices sent once per threshold, daily schedules claimed once per
-- day whatever the number of workers, re-verifications linking a follow-up to its record,
-- and quarterly certifications, which nothing may change or remove.

CREATE TABLE cmra_profiles (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    address TEXT NOT NULL,               -- JSON Address
    updated_at BIGINT NOT NULL
);

CREATE TABLE id_expiry_notices (
    verification_id TEXT NOT NULL,
    expires_on TEXT NOT NULL,            -- YYYY-MM-DD: a renewed ID starts its thresholds again
    threshold BIGINT NOT NULL,           -- 60, 30, 7, or 0 for "expired"
    workspace_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (verification_id, expires_on, threshold)
);

CREATE TABLE schedule_runs (
    name TEXT NOT NULL,
    day TEXT NOT NULL,                   -- YYYY-MM-DD (UTC)
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, day)
);

CREATE TABLE reverifications (
    follow_up_id TEXT PRIMARY KEY NOT NULL,
    original_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    applied_at BIGINT
);
CREATE INDEX reverifications_original ON reverifications(original_id);

CREATE TABLE compliance_certifications (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    quarter TEXT NOT NULL,               -- e.g. 2026-Q4
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    report TEXT NOT NULL,                -- JSON: the report as certified
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, quarter)
);
CREATE FUNCTION compliance_certifications_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'certifications are immutable'; END;
$$;
CREATE TRIGGER compliance_certifications_no_change BEFORE UPDATE OR DELETE ON compliance_certifications
FOR EACH ROW EXECUTE FUNCTION compliance_certifications_immutable();

