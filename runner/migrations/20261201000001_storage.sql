-- Portable SQL: the same migration runs on SQLite and PostgreSQL.
-- The per-tenant key-value storage: cursors, hashes for "only new or changed",
-- lookup tables, receiver ids written after delivery.
CREATE TABLE storage_items (
    namespace  TEXT NOT NULL,
    storage    TEXT NOT NULL,           -- a named space inside the namespace
    item_key   TEXT NOT NULL,
    value      TEXT NOT NULL,           -- JSON
    updated_at BIGINT NOT NULL,         -- milliseconds since the Unix epoch
    expires_at BIGINT,                  -- milliseconds since the Unix epoch; NULL: never
    PRIMARY KEY (namespace, storage, item_key)
);
CREATE INDEX storage_items_expiry ON storage_items (expires_at);
