-- The names of the rules a verification failed, as `,name_mismatch,selfie_mismatch,`, for
-- the queue's "failed rule" filter: `rules` itself is sealed personal data (its expected
-- and found values quote the applicant), so it cannot be searched.

ALTER TABLE verifications ADD COLUMN failed_rules TEXT;
