-- 007 is reserved for the admin console (issue #16), which lands separately. This no-op keeps
-- the numbering without gaps until then; the console's 007 replaces this file at the merge.
SELECT 1;
