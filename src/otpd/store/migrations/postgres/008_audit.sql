-- 008 for PostgreSQL: the audit trail, as ../008 (appends lock the head row FOR UPDATE).
CREATE TABLE audit (
    seq        BIGINT NOT NULL PRIMARY KEY,
    time_us    BIGINT NOT NULL,
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
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
