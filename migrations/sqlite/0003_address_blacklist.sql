-- Addresses a workspace refuses as proof of address (another CMRA, a PO box…).
CREATE TABLE address_blacklist (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, address)
);
