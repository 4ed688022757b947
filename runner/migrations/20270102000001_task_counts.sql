-- Portable SQL: the same migration runs on SQLite and PostgreSQL.
-- A task's state changes two or three times in its life (queued, leased, done); no index
-- over all tasks holds `state` any more, so a change rewrites no index entry of a task
-- that is not in one of the small partial indexes (tasks_pending, tasks_waiting,
-- tasks_leases, and below tasks_failed, tasks_skipped).
--
-- Counts per (namespace, route, state) are kept in task_counts by the transactions that
-- change states (`queue/sql/counts.rs`): each adds what it changed, aggregated per
-- (namespace, route, state), in the same transaction. `state` is `undelivered` for the
-- tasks pending or processing together (a lease changes no count: the processing tasks
-- are counted, when read, from tasks_leases, which holds them alone), else the task
-- state. A route's count is the sum over its rows: `slot` spreads the writers of a PostgreSQL queue shared by several
-- runners (and a runner's group commit and its leases) over rows of their own, so that
-- they do not wait for each other's row locks; a slot's `n` may be negative. SQLite has
-- one writer and uses slots 0 and 1.
CREATE TABLE task_counts (
    namespace TEXT NOT NULL,
    route     TEXT NOT NULL,
    state     TEXT NOT NULL,
    slot      BIGINT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (namespace, route, state, slot)
);
INSERT INTO task_counts (namespace, route, state, slot, n)
    SELECT namespace, route, counted, 0, COUNT(*) FROM (
        SELECT namespace, route,
               CASE WHEN state IN ('pending', 'processing') THEN 'undelivered' ELSE state END AS counted
        FROM tasks
    ) AS classified
    GROUP BY namespace, route, counted;

-- Listing a route's tasks in id (creation) order; a task enters it once, when queued.
DROP INDEX tasks_listing;
CREATE INDEX tasks_by_route ON tasks (namespace, route, id);
-- Listing a route's failed or skipped tasks stays a seek, not a walk over its done ones.
-- The states are written as `states.rs` stores them.
CREATE INDEX tasks_failed ON tasks (namespace, route, id) WHERE state = 'failed';
CREATE INDEX tasks_skipped ON tasks (namespace, route, id) WHERE state = 'skipped';
