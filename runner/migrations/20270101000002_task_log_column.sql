-- Portable SQL: the same migration runs on SQLite and PostgreSQL.
-- The log lines a task is queued with (what came in, what the incoming transformers
-- made of it) are kept in its row instead of as rows of task_logs: one row and one
-- index entry fewer per task, on the hot path of intake. One JSON object per line
-- (`{"atUs":…,"message":"…"}`), each ended by a newline; NULL: none (and every task
-- queued before this migration, whose lines are in task_logs). Lines written later
-- (attempts, operators' actions, acknowledgements) stay in task_logs; a task's log is
-- both, in time order.
ALTER TABLE tasks ADD COLUMN log TEXT;
