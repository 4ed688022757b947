//! The commit path of the SQL queue: a transaction either commits and says so, or fails
//! and leaves no connection behind whose state nobody knows.

use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::any::AnyPoolOptions;

use super::SqlQueue;
use super::counts::{CountChanges, CountWriter};
use super::dialect::Dialect;
use super::leases::LeasedRows;
use super::writer::{Durability, Writer};
use crate::metrics::events::{self, TakeBack};
use crate::queue::{LeaseAsk, LeasedTask, LogLine, QueueError, WriteBatch, now_ms};

/// How long PostgreSQL is asked about a commit whose answer was lost before the outcome
/// counts as unknown (the caller then hears "not committed" and its sender retries).
const RECHECK_FOR: Duration = Duration::from_secs(10);
const RECHECK_PAUSE: Duration = Duration::from_millis(100);

/// Connections that come back to the pool still counting an open transaction are
/// closed, not reused. sqlx counts transactions itself: when the database ended one on
/// its own (SQLite rolls back after `SQLITE_FULL`, `SQLITE_IOERR`, sometimes
/// `SQLITE_BUSY`), sqlx's `ROLLBACK` fails and the count stays up; on such a connection
/// the next `BEGIN` becomes a `SAVEPOINT` and the next commit releases a savepoint
/// inside a transaction that never ends: answered as committed, lost at exit. A
/// transaction dropped without commit (an error path) also counts here until its
/// rollback ran, so every failed writer connection is replaced by a fresh one.
pub(super) fn untrusted_connections_closed(options: AnyPoolOptions) -> AnyPoolOptions {
    options.after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
}

/// How a write transaction failed.
enum Failed {
    /// Before `COMMIT`, or refused by the database: nothing was committed.
    NotCommitted(QueueError),
    /// PostgreSQL got (or may have got) `COMMIT`, and its answer never came.
    Unanswered { xid: i64, error: sqlx::Error },
}

impl Failed {
    fn before_commit(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::NotCommitted(QueueError::Database { operation, source })
    }
}

/// How a batch commits: new tasks (answered 202 once committed), a poll's cursor and
/// its claim are flushed to disk; a batch of delivery outcomes and leases alone is not
/// (see [`super::writer`]: a lost completion or lease costs a redelivery). Leases that
/// ride along with new tasks are flushed with them, at no extra cost.
fn durability(batch: &WriteBatch) -> Durability {
    if batch.new_tasks.is_empty() && batch.storage.is_empty() && batch.claim.is_none() {
        Durability::Unflushed
    } else {
        Durability::Flushed
    }
}

impl SqlQueue {
    /// Commits `batch` in one transaction, and leases for `leases` in it (see
    /// [`crate::queue::QueueStore::write_and_lease`]); `Ok` only once the database
    /// confirmed it.
    pub(super) async fn write_durably(
        &self,
        batch: &WriteBatch,
        leases: &[LeaseAsk],
        now: i64,
    ) -> Result<Vec<Result<Vec<LeasedTask>, QueueError>>, QueueError> {
        let mut conn = Writer::acquire(self.dialect, &self.writer, durability(batch)).await?;
        match self.write_on(&mut conn, batch, leases, now).await {
            Ok((leased, taken_back)) => {
                conn.release().await;
                if !leases.is_empty() {
                    events::leases_taken_back(TakeBack::Expired, taken_back);
                }
                Ok(leased.into_iter().map(LeasedRows::read).collect())
            }
            Err(failed) => {
                // Whatever the error, this connection's transaction state cannot be
                // trusted (see `untrusted_connections_closed`): close it; the pool opens
                // a fresh one.
                conn.close().await;
                match failed {
                    Failed::NotCommitted(error) => Err(error),
                    // Committed after all: its leases were too, but their rows are
                    // gone with the answer; those tasks run again once their leases
                    // run out.
                    Failed::Unanswered { xid, error } => self
                        .recheck(xid, error)
                        .await
                        .map(|()| leases.iter().map(|_| Ok(Vec::new())).collect()),
                }
            }
        }
    }

    /// The batch's transaction; on success the rows of each lease and how many expired
    /// leases it took back.
    async fn write_on(
        &self,
        conn: &mut Writer,
        batch: &WriteBatch,
        leases: &[LeaseAsk],
        now: i64,
    ) -> Result<(Vec<LeasedRows>, u64), Failed> {
        let mut tx = conn
            .begin()
            .await
            .map_err(Failed::before_commit("begin write"))?;
        // PostgreSQL: the transaction's id, to ask about its outcome if the answer to
        // COMMIT is lost.
        let xid = match self.dialect {
            Dialect::Postgres => Some(
                sqlx::query_scalar::<_, i64>("SELECT txid_current()")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(Failed::before_commit("begin write"))?,
            ),
            Dialect::Sqlite => None,
        };
        // A poll's tasks commit only while its runner holds the poll's claim; the
        // renewal locks the claim row (PostgreSQL) until this transaction ends, so no
        // other runner can take the route over in between.
        if let Some(claim) = &batch.claim {
            let held = Self::renew_claim_on(&mut *tx, claim, crate::replicas::CLAIM_LEASE)
                .await
                .map_err(Failed::NotCommitted)?;
            if !held {
                return Err(Failed::NotCommitted(QueueError::ClaimLost {
                    namespace: claim.route.namespace.clone(),
                    route: claim.route.route.clone(),
                    tick_ms: claim.tick_ms,
                }));
            }
        }
        let mut counts = CountChanges::default();
        Self::insert_tasks(self.dialect, &mut tx, &batch.new_tasks, now, &mut counts)
            .await
            .map_err(Failed::NotCommitted)?;
        Self::insert_provenance(self.dialect, &mut tx, &batch.new_tasks)
            .await
            .map_err(Failed::NotCommitted)?;
        Self::apply_completions(self.dialect, &mut tx, &batch.completions, now, &mut counts)
            .await
            .map_err(Failed::NotCommitted)?;
        // A poll's cursor commits with the tasks it covers: a crash can neither leave
        // the tasks without the cursor (the records polled again) nor the reverse.
        for put in &batch.storage {
            crate::storage::put_on(&mut *tx, &put.scope, &put.key, &put.value, None)
                .await
                .map_err(Failed::before_commit("save a storage entry with the tasks"))?;
        }
        // New tasks carry their log lines in their rows (`insert_tasks`).
        let mut lines: Vec<(&str, &LogLine)> = Vec::new();
        for completion in &batch.completions {
            lines.extend(
                completion
                    .log
                    .iter()
                    .map(|line| (completion.id.as_str(), line)),
            );
        }
        Self::insert_logs(self.dialect, &mut tx, &lines)
            .await
            .map_err(Failed::NotCommitted)?;
        // Leases last: they see the tasks just queued and those just handed back. A
        // delivery worker waiting for work gets new tasks in the transaction that
        // commits them, without a transaction of its own.
        let mut taken_back = 0;
        let mut leased = Vec::with_capacity(leases.len());
        if !leases.is_empty() {
            taken_back = self
                .take_back_on(&mut tx, now, &mut counts)
                .await
                .map_err(Failed::NotCommitted)?;
            for ask in leases {
                leased.push(
                    self.lease_on(&mut tx, ask, now, &mut counts)
                        .await
                        .map_err(Failed::NotCommitted)?,
                );
            }
        }
        counts
            .apply(self.dialect, CountWriter::GroupCommit, &mut tx)
            .await
            .map_err(Failed::NotCommitted)?;
        tx.commit().await.map_err(|error| match xid {
            // An answer from the database is a refusal: it rolled back.
            Some(xid) if !matches!(error, sqlx::Error::Database(_)) => {
                Failed::Unanswered { xid, error }
            }
            _ => Failed::NotCommitted(QueueError::Database {
                operation: "commit write",
                source: error,
            }),
        })?;
        Ok((leased, taken_back))
    }

    /// Asks PostgreSQL whether transaction `xid`, whose `COMMIT` went unanswered,
    /// committed. "In progress" means the server has not finished with it yet (or has
    /// not noticed that its client is gone): ask again, for a while.
    async fn recheck(&self, xid: i64, error: sqlx::Error) -> Result<(), QueueError> {
        let deadline = Instant::now() + RECHECK_FOR;
        loop {
            let status = sqlx::query_scalar::<_, Option<String>>("SELECT txid_status($1)")
                .bind(xid)
                .fetch_one(&self.writer)
                .await;
            match status.as_ref().map(Option::as_deref) {
                Ok(Some("committed")) => {
                    tracing::warn!(error = %error, "The answer to a queue commit was lost; the database confirms the commit");
                    return Ok(());
                }
                Ok(Some("aborted")) => {
                    return Err(QueueError::Database {
                        operation: "commit write",
                        source: error,
                    });
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(QueueError::CommitUnknown { source: error });
            }
            tokio::time::sleep(RECHECK_PAUSE).await;
        }
    }

    /// One small durable write (a row rewritten in `queue_probe`): succeeds only when
    /// commits do.
    pub(super) async fn probe_write(&self) -> Result<(), QueueError> {
        let mut conn = self
            .writer
            .acquire()
            .await
            .map_err(QueueError::db("acquire the queue writer"))?;
        let result = sqlx::query(
            "INSERT INTO queue_probe (id, at) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        )
        .bind(now_ms())
        .execute(&mut *conn)
        .await;
        if result.is_err()
            && let Err(error) = conn.close().await
        {
            tracing::debug!(error = %error, "Closing a failed queue writer connection failed");
        }
        result
            .map(|_| ())
            .map_err(QueueError::db("probe the queue with a write"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Completion, NewTask, Outcome, PollClaim, RouteKey, StoragePut};
    use crate::storage::StorageScope;

    fn route() -> RouteKey {
        RouteKey {
            namespace: "shop".into(),
            route: "orders".into(),
        }
    }

    fn completion() -> Completion {
        Completion {
            id: "t1".into(),
            route: route(),
            lease_token: "l1".into(),
            outcome: Outcome::Done,
            log: Vec::new(),
        }
    }

    /// Only a batch of delivery outcomes may skip the flush: whatever a sender, a poll
    /// or a claim relies on is flushed, also when outcomes ride along.
    #[test]
    fn only_delivery_outcomes_commit_unflushed() {
        let outcomes = WriteBatch {
            completions: vec![completion()],
            ..WriteBatch::default()
        };
        assert_eq!(durability(&outcomes), Durability::Unflushed);

        let with_task = WriteBatch {
            new_tasks: vec![NewTask::proxied(
                route(),
                serde_json::json!({}),
                None,
                Vec::new(),
            )],
            completions: vec![completion()],
            ..WriteBatch::default()
        };
        assert_eq!(durability(&with_task), Durability::Flushed);

        let with_cursor = WriteBatch {
            completions: vec![completion()],
            storage: vec![StoragePut {
                scope: StorageScope::new("shop", "cursors"),
                key: "orders".into(),
                value: serde_json::json!(1),
            }],
            ..WriteBatch::default()
        };
        assert_eq!(durability(&with_cursor), Durability::Flushed);

        let claimed = WriteBatch {
            claim: Some(PollClaim {
                route: route(),
                tick_ms: 1,
                holder: "r1".into(),
            }),
            ..WriteBatch::default()
        };
        assert_eq!(durability(&claimed), Durability::Flushed);
    }
}
