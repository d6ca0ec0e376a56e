-- 007: a placeholder on the clients branch only, for the console branch's migration (issue #16),
-- which is merged first. Migrations are numbered without gaps; the merge deletes this file.
SELECT 1;
