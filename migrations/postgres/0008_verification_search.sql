-- Review-queue search without scanning (SPEC §7): the applicant's name both ways round
-- and e-mail, folded (lower case, no diacritics or punctuation) by the application on
-- every write, each behind an index so a prefix search is a range scan. Byte order
-- ("C" collation) makes `>= prefix AND < prefix || U+10FFFF` a prefix range, as on SQLite.
ALTER TABLE verifications ADD COLUMN search_name TEXT COLLATE "C";
ALTER TABLE verifications ADD COLUMN search_name_rev TEXT COLLATE "C";
ALTER TABLE verifications ADD COLUMN search_email TEXT COLLATE "C";

-- Rows written before this migration: lower case only (the application folds
-- diacritics too when it next writes the applicant).
UPDATE verifications SET
    search_name = lower((applicant::jsonb ->> 'first_name') || ' ' || (applicant::jsonb ->> 'last_name')),
    search_name_rev = lower((applicant::jsonb ->> 'last_name') || ' ' || (applicant::jsonb ->> 'first_name')),
    search_email = lower(applicant::jsonb ->> 'email');

CREATE INDEX verifications_search_name ON verifications(workspace_id, search_name);
CREATE INDEX verifications_search_name_rev ON verifications(workspace_id, search_name_rev);
CREATE INDEX verifications_search_email ON verifications(workspace_id, search_email);
-- References are matched whole, in any case.
CREATE INDEX verifications_search_reference ON verifications(workspace_id, lower(reference));
