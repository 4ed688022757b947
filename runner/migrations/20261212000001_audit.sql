-- Portable SQL: the same migration runs on SQLite and PostgreSQL.
-- The audit trail: every mutating action through the API and every configuration
-- reload, with who (the authenticated identity), what, when and from where.
CREATE TABLE audit_events (
    id        TEXT PRIMARY KEY,         -- UUIDv7: sorts by time
    namespace TEXT NOT NULL,
    at        BIGINT NOT NULL,          -- milliseconds since the Unix epoch
    actor     TEXT NOT NULL,            -- e.g. `alice (oidc)`, `ci-bot (token)`, `runner`
    action    TEXT NOT NULL,            -- retry, discard, retry-failed, trigger, storage-put, …
    target    TEXT NOT NULL,            -- what it acted on: a task id, a route, a storage key
    detail    TEXT NOT NULL,            -- JSON: what changed
    origin    TEXT                      -- the client's address; NULL for the runner itself
);
CREATE INDEX audit_events_by_namespace ON audit_events (namespace, id);
CREATE INDEX audit_events_by_time ON audit_events (at);
