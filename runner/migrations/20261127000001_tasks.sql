-- Portable SQL: the same migration runs on SQLite and PostgreSQL.
CREATE TABLE tasks (
    id              TEXT PRIMARY KEY,   -- UUIDv7: sorts by creation time
    namespace       TEXT NOT NULL,
    route           TEXT NOT NULL,
    state           TEXT NOT NULL,      -- pending | processing | done | failed | skipped
    item            TEXT NOT NULL,      -- the item as queued (JSON)
    source          TEXT NOT NULL,      -- where it came from: webhook, poll, manual
    attempts        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,    -- milliseconds since the Unix epoch
    updated_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    lease_token     TEXT,
    last_error      TEXT
);
CREATE INDEX tasks_ready ON tasks (namespace, route, state, next_attempt_at);
CREATE INDEX tasks_leases ON tasks (state, lease_until);
CREATE INDEX tasks_listing ON tasks (namespace, route, state, id);

CREATE TABLE task_logs (
    task_id TEXT NOT NULL,
    at      BIGINT NOT NULL,            -- microseconds since the Unix epoch
    seq     BIGINT NOT NULL,            -- order among lines written in the same microsecond
    message TEXT NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs (task_id, at, seq);
