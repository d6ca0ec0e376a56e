-- 007 for PostgreSQL: the admin console and self-service enrolment (issue #16, docs/console.md).
-- A credential's state: 'pending' until its self-service enrolment is confirmed with a first
-- code, 'disabled' by an admin; only 'active' credentials accept a code (core.credential_service).
ALTER TABLE credential ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
    CHECK (state IN ('active', 'disabled', 'pending'));

-- Console admins. The password is an argon2id hash; the second factor is an ordinary TOTP
-- credential of the reserved tenant `system`, verified by the core like any other.
-- tenant NULL: the admin sees every tenant.
CREATE TABLE console_admin (
    name          TEXT NOT NULL PRIMARY KEY,
    tenant        TEXT REFERENCES tenant (id),
    password_hash TEXT NOT NULL,
    credential    TEXT NOT NULL,  -- name of its TOTP credential in the tenant `system`
    created_at    BIGINT NOT NULL
);

-- Server-side sessions, in the database so any instance serves them. Only the SHA-256 of the
-- session cookie is stored; the CSRF token is per session.
CREATE TABLE console_session (
    session_hash  TEXT NOT NULL PRIMARY KEY,
    admin         TEXT NOT NULL REFERENCES console_admin (name) ON DELETE CASCADE,
    csrf          TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    seen_at_us    BIGINT NOT NULL
);
