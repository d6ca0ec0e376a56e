-- 006: the RADIUS front-end (issue #15, docs/radius.md). NAS clients belong to a tenant; their
-- shared secret is sealed like a TOTP secret (RADIUS needs the plaintext, RFC 2865 §3).
-- Outstanding Access-Challenges live here, not in memory, so the second request of a
-- challenge may reach another instance; only the SHA-256 of a State is stored.

CREATE TABLE radius_nas (
    tenant     TEXT NOT NULL REFERENCES tenant (id),
    name       TEXT NOT NULL,
    networks   TEXT NOT NULL,  -- JSON list of CIDR networks, normalised
    secret     BLOB NOT NULL,  -- sealed: AES-256-GCM ciphertext, never plaintext
    settings   TEXT NOT NULL,  -- JSON: mode, message_authenticator, reply attributes, ...
    ma_seen    INTEGER NOT NULL DEFAULT 0,  -- the NAS has sent a Message-Authenticator
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE radius_challenge (
    state_hash    TEXT NOT NULL PRIMARY KEY,  -- SHA-256 hex of the State attribute
    tenant        TEXT NOT NULL,
    nas           TEXT NOT NULL,
    user_name     TEXT NOT NULL,
    expires_at_us INTEGER NOT NULL
);

CREATE INDEX radius_challenge_expiry ON radius_challenge (expires_at_us);

-- A credential's group label for the NAS's group attribute; goes with the credential.
CREATE TABLE radius_group (
    credential_id INTEGER NOT NULL PRIMARY KEY REFERENCES credential (id) ON DELETE CASCADE,
    label         TEXT NOT NULL
);

