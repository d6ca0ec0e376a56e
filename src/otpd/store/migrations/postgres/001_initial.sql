-- 001 for PostgreSQL: the same tables as ../001_initial.sql, in PostgreSQL types. Integers are
-- BIGINT (microsecond times and steps outgrow 32 bits), the sealed secret is BYTEA. The runner
-- sends each file as one script, inside one transaction with its schema_version row.

CREATE TABLE tenant (
    id         TEXT NOT NULL PRIMARY KEY,
    -- JSON: phenixid_auth, allowed_operations, client_cert_subjects (core.model.Tenant)
    settings   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_client (
    tenant     TEXT NOT NULL REFERENCES tenant (id),
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,  -- comma-separated core.model.Scope values
    key_hash   TEXT NOT NULL UNIQUE,  -- SHA-256 hex of the key; the key is never stored
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE credential (
    id            BIGINT PRIMARY KEY,  -- from credential_id_seq; the ciphertext is bound to it
    tenant        TEXT NOT NULL REFERENCES tenant (id),
    name          TEXT NOT NULL,
    algorithm     TEXT NOT NULL
                  CHECK (algorithm IN ('sha1', 'sha224', 'sha256', 'sha384', 'sha512')),
    digits        BIGINT NOT NULL CHECK (digits BETWEEN 6 AND 10),
    period        BIGINT NOT NULL CHECK (period >= 1),
    skew          BIGINT NOT NULL CHECK (skew BETWEEN 0 AND 10),
    key_size      BIGINT NOT NULL CHECK (key_size BETWEEN 10 AND 1024),
    issuer        TEXT NOT NULL,
    account_name  TEXT NOT NULL,
    email         TEXT,
    phone         TEXT,
    created_at_us BIGINT NOT NULL,
    secret        BYTEA NOT NULL,  -- sealed: AES-256-GCM ciphertext, never plaintext
    last_step     BIGINT NOT NULL DEFAULT -1,  -- only ever moves forward
    failures      BIGINT NOT NULL DEFAULT 0 CHECK (failures >= 0),
    not_before    BIGINT NOT NULL DEFAULT 0,  -- Unix seconds; throttled until then
    UNIQUE (tenant, name)
);

-- A one-row counter, as in SQLite: the id must be known before the secret is sealed.
CREATE TABLE credential_id_seq (
    id    BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);

INSERT INTO credential_id_seq (id, value) VALUES (1, 0);

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- Strongbox bearer tokens: only the SHA-256 of a token is stored.
CREATE TABLE token (
    token_hash    TEXT NOT NULL PRIMARY KEY,
    accessor      TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    client        TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    renewed_at_us BIGINT NOT NULL,
    expires_at_us BIGINT NOT NULL
);

CREATE INDEX token_expiry ON token (expires_at_us);
