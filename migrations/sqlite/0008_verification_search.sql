-- Review-queue search without scanning (SPEC §7): the applicant's name both ways round
-- and e-mail, folded (lower case, no diacritics or punctuation) by the application on
-- every write, each behind an index so a prefix search is a range scan.
ALTER TABLE verifications ADD COLUMN search_name TEXT;
ALTER TABLE verifications ADD COLUMN search_name_rev TEXT;
ALTER TABLE verifications ADD COLUMN search_email TEXT;

-- Rows written before this migration: lower case only (the application folds
-- diacritics too when it next writes the applicant).
UPDATE verifications SET
    search_name = lower(json_extract(applicant, '$.first_name') || ' ' || json_extract(applicant, '$.last_name')),
    search_name_rev = lower(json_extract(applicant, '$.last_name') || ' ' || json_extract(applicant, '$.first_name')),
    search_email = lower(json_extract(applicant, '$.email'));

CREATE INDEX verifications_search_name ON verifications(workspace_id, search_name);
CREATE INDEX verifications_search_name_rev ON verifications(workspace_id, search_name_rev);
CREATE INDEX verifications_search_email ON verifications(workspace_id, search_email);
-- References are matched whole, in any case.
CREATE INDEX verifications_search_reference ON verifications(workspace_id, lower(reference));
