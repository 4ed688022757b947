-- What each Notification last told (notify/): whether it fires, whether that was sent,
-- and when the last firing message went out (the cool-down). Kept in the queue
-- database so a restarted runner, or another replica, does not send it again.
-- `version` makes every change a compare-and-set: of replicas evaluating the same rule,
-- one wins the change and sends.
CREATE TABLE notification_state (
    namespace    TEXT NOT NULL,
    name         TEXT NOT NULL,
    firing       BIGINT NOT NULL,   -- 1 while the condition holds
    notified     BIGINT NOT NULL,   -- 1 when the current firing was announced
    last_sent_at BIGINT,            -- ms since the epoch of the last firing message
    changed_at   BIGINT NOT NULL,   -- ms since the epoch of the last change
    version      BIGINT NOT NULL,
    PRIMARY KEY (namespace, name)
);
