-- Portable SQL: the same migration runs on SQLite and PostgreSQL.
-- Provenance: how a task's item came to be. One row per task of a Route with incoming
-- steps (and per replayed task): the item as received, the items after each incoming
-- step (as `spec.processing.keepSteps` says), and the task it replays. At most 64 KiB
-- of items per task (`received` and `steps` together); what is over is left out and
-- its size noted. Rows go with their task (retention).
CREATE TABLE task_provenance (
    task_id         TEXT PRIMARY KEY,
    received        TEXT,               -- JSON; NULL when left out (over the cap)
    received_bytes  BIGINT NOT NULL,    -- size of the item as received, in bytes of JSON
    batch           BIGINT NOT NULL,    -- 1: `received` is the array of a whole batch
    steps           TEXT,               -- JSON array of kept steps; NULL: not kept
    keep_steps      TEXT NOT NULL,      -- never | failed | always (the route's setting then)
    replay_of       TEXT,               -- the task this one replays
    from_step       BIGINT              -- the step the replay started at
);
CREATE INDEX task_provenance_replays ON task_provenance (replay_of) WHERE replay_of IS NOT NULL;
