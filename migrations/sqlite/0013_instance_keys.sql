-- Keys of the instance that must outlive a master-key rotation, sealed with the master
-- key (issue #20). `recovery-code`: the HMAC key recovery codes are hashed with, written
-- by the first `attest admin rotate-master-key` (before that it is derived from the
-- master key), so codes issued before a rotation keep working after it.
CREATE TABLE instance_keys (
    purpose TEXT PRIMARY KEY NOT NULL,
    key_sealed TEXT NOT NULL,             -- base64 of an ATD1 envelope (app/src/documents/crypto.rs)
    created_at BIGINT NOT NULL
);
