-- Idempotency records (SPEC §3) live 24 hours and keep their responses sealed
-- (AES-256-GCM under a key derived from the master key). The responses stored so far
-- are in clear text (webhook secrets, applicant data), so they go: a retry of one of
-- them runs as a new request.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys RENAME COLUMN response_body TO response_sealed;
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
