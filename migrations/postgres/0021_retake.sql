-- Retake (issue 16, SPEC §10): the new documents a reviewer or the API asked for while a
-- verification is `resubmission_requested`, as JSON `[{"role", "reason", "by", "at"}]`;
-- NULL when none is outstanding (submit clears it).

ALTER TABLE verifications ADD COLUMN requested_documents TEXT;
