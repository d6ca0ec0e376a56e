-- 001: the first schema (docs/requirements.md#model). Every row belongs to one tenant; names are unique only
-- within their tenant (docs/requirements.md#tenancy). CHECKs repeat the model's ranges (docs/requirements.md#single-use) so a bug elsewhere
-- cannot store a credential the verifier would misread. One statement per group of lines:
-- the runner splits on complete statements.

CREATE TABLE tenant (
    id         TEXT NOT NULL PRIMARY KEY,
    -- JSON: phenixid_auth, allowed_operations, client_cert_subjects (core.model.Tenant)
    settings   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_client (
    tenant     TEXT NOT NULL REFERENCES tenant (id),
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,  -- comma-separated core.model.Scope values
    key_hash   TEXT NOT NULL UNIQUE,  -- SHA-256 hex of the key; the key is never stored
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE credential (
    id            INTEGER PRIMARY KEY,  -- from credential_id_seq; the ciphertext is bound to it
    tenant        TEXT NOT NULL REFERENCES tenant (id),
    name          TEXT NOT NULL,
    algorithm     TEXT NOT NULL
                  CHECK (algorithm IN ('sha1', 'sha224', 'sha256', 'sha384', 'sha512')),
    digits        INTEGER NOT NULL CHECK (digits BETWEEN 6 AND 10),
    period        INTEGER NOT NULL CHECK (period >= 1),
    skew          INTEGER NOT NULL CHECK (skew BETWEEN 0 AND 10),  -- docs/requirements.md#window: MAX_SKEW
    key_size      INTEGER NOT NULL CHECK (key_size BETWEEN 10 AND 1024),
    issuer        TEXT NOT NULL,
    account_name  TEXT NOT NULL,
    email         TEXT,
    phone         TEXT,
    created_at_us INTEGER NOT NULL,
    secret        BLOB NOT NULL,  -- sealed: AES-256-GCM ciphertext, never plaintext
    last_step     INTEGER NOT NULL DEFAULT -1,  -- docs/requirements.md#single-use: only ever moves forward
    failures      INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),  -- docs/requirements.md#throttling
    not_before    INTEGER NOT NULL DEFAULT 0,  -- Unix seconds; throttled until then
    UNIQUE (tenant, name)
);

-- A one-row counter rather than AUTOINCREMENT: the id must be known before the secret is
-- sealed, because the ciphertext is bound to (tenant, id) (docs/requirements.md#encrypted-at-rest).
CREATE TABLE credential_id_seq (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);

INSERT INTO credential_id_seq (id, value) VALUES (1, 0);

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- Strongbox bearer tokens (docs/requirements.md#model): only the SHA-256 of a token is stored.
CREATE TABLE token (
    token_hash    TEXT NOT NULL PRIMARY KEY,
    accessor      TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    client        TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    renewed_at_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL
);

CREATE INDEX token_expiry ON token (expires_at_us);  -- delete_expired_tokens
