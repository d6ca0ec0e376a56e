-- 008: the audit trail (issue #13, docs/operations.md#audit-trail). One row per verification
-- and management action, never a code or secret. Each row's hash covers the previous row's
-- hash (otpd.core.audit.chain_hash), and audit_head holds the newest link: every append reads
-- and moves the head inside its write transaction, so instances sharing the database extend
-- one linear chain, and `otpd audit verify` sees a removed, edited or truncated entry.
CREATE TABLE audit (
    seq        INTEGER NOT NULL PRIMARY KEY,
    time_us    INTEGER NOT NULL,
    tenant     TEXT NOT NULL,
    caller     TEXT NOT NULL,
    source     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

CREATE INDEX audit_time ON audit (time_us);

CREATE TABLE audit_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
