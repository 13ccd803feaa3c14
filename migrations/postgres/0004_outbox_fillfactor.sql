-- Outbox pages keep half their space free, so the relay's lease (`claimed_by`, `lease_until`:
-- columns no index covers) rewrites a row in its own page as a heap-only tuple, with no new
-- entry in any of the outbox's five indexes. Measured in a flash sale: the lease statement went
-- from 33 to 10 µs a row, and the publication's from 21 to 15 (docs/performance.md). Pages
-- written before this migration keep their old fill until they are rewritten.
--
-- Storage only, so it has no SQLite counterpart: SQLite has no fill factor, and the tables and
-- constraints of the two schemas stay the same.
ALTER TABLE outbox SET (fillfactor = 50);
