-- Portable SQL: the same migration runs on SQLite and PostgreSQL.
-- Waiting tasks (state 'waiting'): delivered, waiting for the receiver's
-- acknowledgement. `correlation` is the value the acknowledgement carries; while a task
-- waits, `next_attempt_at` holds its deadline (found through tasks_due).
ALTER TABLE tasks ADD COLUMN correlation TEXT;
CREATE INDEX tasks_correlation ON tasks (namespace, route, correlation) WHERE correlation IS NOT NULL;
