-- Leasing reads a route's due pending tasks in (next_attempt_at, id) order: with `id` in
-- the index the database walks it in order and stops at the limit, instead of sorting
-- the whole backlog on every lease. Expired leases are taken back separately, through
-- tasks_leases.
DROP INDEX tasks_ready;
CREATE INDEX tasks_due ON tasks (namespace, route, state, next_attempt_at, id);
