-- Portable SQL: the same migration runs on SQLite and PostgreSQL.
-- Leasing reads a route's due `pending` tasks in (next_attempt_at, id) order, and expiry
-- its `waiting` tasks past their deadline: each through a partial index holding those
-- tasks alone. tasks_due, over all tasks, was rewritten on every state change (leased,
-- done) and kept every finished task forever; now a task enters tasks_pending when it is
-- queued (or retried) and leaves it when it is leased, and a delivered task is in
-- neither. Counts, listings and the undelivered backlog go through tasks_listing. The
-- states are written as `states.rs` stores them.
DROP INDEX tasks_due;
CREATE INDEX tasks_pending ON tasks (namespace, route, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX tasks_waiting ON tasks (namespace, route, next_attempt_at) WHERE state = 'waiting';
