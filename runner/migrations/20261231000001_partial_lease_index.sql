-- Only leased tasks have a lease that can run out: the index that finds expired leases
-- (and every lease at start-up) holds the `processing` tasks alone. Over all tasks it
-- was rewritten on every state change of every task (queued, leased, done) and kept
-- every finished task forever; now a task enters it when leased and leaves it when its
-- attempt ends. The state is written as `states.rs` stores it.
DROP INDEX tasks_leases;
CREATE INDEX tasks_leases ON tasks (lease_until) WHERE state = 'processing';
