-- 006 for PostgreSQL: the RADIUS front-end's tables (issue #15), as ../006_radius.sql.

CREATE TABLE radius_nas (
    tenant     TEXT NOT NULL REFERENCES tenant (id),
    name       TEXT NOT NULL,
    networks   TEXT NOT NULL,  -- JSON list of CIDR networks, normalised
    secret     BYTEA NOT NULL,  -- sealed: AES-256-GCM ciphertext, never plaintext
    settings   TEXT NOT NULL,  -- JSON: mode, message_authenticator, reply attributes, ...
    ma_seen    INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE radius_challenge (
    state_hash    TEXT NOT NULL PRIMARY KEY,  -- SHA-256 hex of the State attribute
    tenant        TEXT NOT NULL,
    nas           TEXT NOT NULL,
    user_name     TEXT NOT NULL,
    expires_at_us BIGINT NOT NULL
);

CREATE INDEX radius_challenge_expiry ON radius_challenge (expires_at_us);

CREATE TABLE radius_group (
    credential_id BIGINT NOT NULL PRIMARY KEY REFERENCES credential (id) ON DELETE CASCADE,
    label         TEXT NOT NULL
);
