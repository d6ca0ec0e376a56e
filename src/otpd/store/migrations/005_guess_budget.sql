-- 005: the guess budget and clock-safe backoff (issue #9, docs/security.md).
-- throttled_at: when the current backoff was set (Unix seconds; 0 for none, and for a spent
-- guess budget, which no clock jump may lift). A clock reading earlier than throttled_at has
-- gone back, and the backoff is then lifted rather than stretched by the jump.
-- refused: attempts refused unevaluated while throttled or locked. It is the one write such
-- an attempt costs, as a wrong code costs one (no timing oracle); no rule reads it, so a flood
-- never extends a wait. The budget itself reuses failures and not_before.
ALTER TABLE credential ADD COLUMN throttled_at INTEGER NOT NULL DEFAULT 0;

ALTER TABLE credential ADD COLUMN refused INTEGER NOT NULL DEFAULT 0 CHECK (refused >= 0);
