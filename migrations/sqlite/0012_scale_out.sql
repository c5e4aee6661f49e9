-- Scale-out (several attest processes on one database).
--
-- The API rate limit is per workspace across every process: on PostgreSQL each request
-- adds one to its workspace's row for the current one-minute window (an upsert), and
-- rows of past windows are deleted by the workers. (SQLite, one machine, keeps its
-- windows in process memory; the table is here so both schemas stay alike.)
CREATE TABLE rate_limit_windows (
    workspace_id TEXT NOT NULL,
    window_start BIGINT NOT NULL,        -- Unix ms, a multiple of 60 000
    used BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, window_start)
);

-- A pipeline job that spent its attempts used to stay failed with its verification in
-- `submitted` for ever. Such jobs run once more: with their attempts spent, the next
-- run sends the verification to review (documents `processing_failed`).
UPDATE jobs SET failed_at = NULL WHERE kind = 'process_verification' AND failed_at IS NOT NULL;
