-- Portable SQL: the same migration runs on SQLite and PostgreSQL.
-- Replicas on one queue share poll work: a route's poll schedule fires on one replica
-- per tick. The row of a route says which tick was claimed last (`tick`, the schedule's
-- occurrence in ms), by which runner (`holder`), and until when the claim is live
-- (`lease_until`, ms; renewed while the poll runs, checked and renewed in every
-- transaction that commits the poll's tasks, set to 0 when the poll is over). A later
-- tick may be claimed once the claim is over or its lease ran out (the holder died).
CREATE TABLE poll_claims (
    namespace TEXT NOT NULL,
    route TEXT NOT NULL,
    tick BIGINT NOT NULL,
    holder TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    PRIMARY KEY (namespace, route)
);
-- Live runners on this queue: each rewrites its row every few seconds. Connection
-- limits are divided by the number of rows seen recently.
CREATE TABLE runner_heartbeats (
    holder TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
