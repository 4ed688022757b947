-- One row the runner rewrites while queue commits fail, to learn when they succeed again
-- (a full disk freed, a read-only file system made writable, a lock released).
CREATE TABLE queue_probe (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL
);
