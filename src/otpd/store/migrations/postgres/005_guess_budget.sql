-- 005 for PostgreSQL: the guess budget and clock-safe backoff (issue #9), as ../005, with
-- BIGINT for the Unix-seconds time. throttled_at: when the current backoff was set (0 for
-- none and for a spent budget); refused: attempts refused unevaluated while throttled or
-- locked, which no rule reads (docs/security.md).
ALTER TABLE credential ADD COLUMN throttled_at BIGINT NOT NULL DEFAULT 0;

ALTER TABLE credential ADD COLUMN refused BIGINT NOT NULL DEFAULT 0 CHECK (refused >= 0);
