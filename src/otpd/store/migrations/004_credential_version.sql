-- A row version, bumped by every replace (issue #4): Strongbox If-Match becomes a
-- compare-and-set in the same UPDATE, so two writers holding one ETag cannot both win.
ALTER TABLE credential ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
