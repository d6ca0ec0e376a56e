-- 010: per-tenant data keys (issue #14, docs/operations.md#keys). Each tenant's secrets (its
-- credentials and its NAS secrets) are sealed under its own data key; every version of it is
-- a row here, wrapped by a key derived from the keyring's root key (docs/design.md). The blob
-- header of each secret names the version that sealed it. Deleting a tenant's rows destroys
-- its keys: its ciphertexts, wherever they were copied, cannot be opened any more.
-- No foreign key to tenant: the rows must be deletable with the tenant in one transaction,
-- and a key is created on the first seal for its tenant.

CREATE TABLE tenant_key (
    tenant     TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    wrapped    TEXT NOT NULL,  -- base64 nonce || AES-GCM(kek, data key); never the key
    created_at INTEGER NOT NULL,  -- Unix seconds; a version is retired a grace after the next
    PRIMARY KEY (tenant, version)
);
