//! The writer connection, and the writes that need not reach the disk before they
//! return: leases, and commits of delivery outcomes alone.
//!
//! A lease only moves a task from `pending` to `processing` under a token; a completion
//! only records what happened to a task that is already on disk. Losing either to a
//! power cut costs a redelivery (the task is still `pending`, or `processing` until its
//! lease runs out and is taken back), never an item: at-least-once holds without the
//! fsync. What anyone outside is told depends on — new tasks answered 202, a poll's
//! cursor, operators' actions — is always flushed. Every flushed commit also flushes
//! the log up to its own point, the unflushed writes before it included (SQLite's and
//! PostgreSQL's write-ahead logs are written in order and recovery keeps a prefix), so
//! a task on disk never depends on a write that was lost.
//!
//! On SQLite's single writer a lease or a batch of completions used to cost an fsync
//! like a commit of new tasks; without it, the writer spends its time on the commits
//! that need one.
//!
//! - SQLite: `PRAGMA synchronous = NORMAL` for the transaction (in WAL mode a commit is
//!   then durable against a crash of the process, not of the machine), sent with its
//!   `BEGIN` (one round trip to the connection's thread), and set back to `FULL` before
//!   the connection returns to the pool. A connection whose setting could
//!   not be restored (an error, or the future dropped half way) is detached from the
//!   pool and closed, so no later commit runs unflushed.
//! - PostgreSQL: `SET LOCAL synchronous_commit = off` inside the transaction; it ends
//!   with the transaction.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Connection, Transaction};

use super::dialect::Dialect;
use crate::queue::QueueError;

/// Whether a transaction's commit waits until it is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// Fsynced before the commit returns: survives power loss.
    Flushed,
    /// Returns before the flush: survives a crash of the runner, and a power cut costs
    /// at most a redelivery. Only for leases and delivery outcomes.
    Unflushed,
}

/// The writer connection, borrowed for one transaction at a given durability.
pub(super) struct Writer {
    dialect: Dialect,
    durability: Durability,
    /// `None` once released or closed.
    conn: Option<PoolConnection<Any>>,
}

impl Writer {
    /// Takes the writer connection; with [`Durability::Unflushed`] on SQLite its commits
    /// stop waiting for the disk from [`Writer::begin`] until [`Writer::release`]. From
    /// here on the connection counts as relaxed: dropped unreleased, it is not reused.
    pub(super) async fn acquire(
        dialect: Dialect,
        pool: &AnyPool,
        durability: Durability,
    ) -> Result<Self, QueueError> {
        let conn = pool
            .acquire()
            .await
            .map_err(QueueError::db("acquire the queue writer"))?;
        Ok(Self {
            dialect,
            durability,
            conn: Some(conn),
        })
    }

    /// SQLite's setting is the connection's, PostgreSQL's the transaction's.
    fn relaxes_connection(&self) -> bool {
        self.dialect == Dialect::Sqlite && self.durability == Durability::Unflushed
    }

    /// The connection; `None` only after `release` or `close`, which consume the writer.
    fn conn_mut(&mut self) -> Result<&mut PoolConnection<Any>, sqlx::Error> {
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// A transaction on the connection, committed at this writer's durability.
    pub(super) async fn begin(&mut self) -> Result<Transaction<'_, Any>, sqlx::Error> {
        let relax = self.dialect == Dialect::Postgres && self.durability == Durability::Unflushed;
        let relax_connection = self.relaxes_connection();
        let conn = &mut **self.conn_mut()?;
        // SQLite's setting cannot change inside a transaction: it goes just before it,
        // in the same statement text.
        let mut tx = if relax_connection {
            conn.begin_with("PRAGMA synchronous=NORMAL; BEGIN").await?
        } else {
            Connection::begin(conn).await?
        };
        if relax {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Makes the connection's commits durable again and hands it back to the pool. What
    /// was committed stays committed: a connection whose setting cannot be restored is
    /// closed instead (by `drop`).
    pub(super) async fn release(mut self) {
        if self.relaxes_connection()
            && let Some(conn) = self.conn.as_mut()
            && let Err(error) = sqlx::query("PRAGMA synchronous=FULL")
                .execute(&mut **conn)
                .await
        {
            tracing::debug!(error = %error, "Restoring the queue writer's durability failed; closing it");
            return;
        }
        // Restored: the connection goes back to the pool here, rather than from the task
        // that dropping it would spawn. The next transaction waits for the connection
        // either way (sqlx pings it on its way back); from a spawned task, it also
        // waited for tokio to run that task among the HTTP requests' tasks: ~1 ms of a
        // 5–8 ms writer turn under load, against 0.1–0.2 ms here (BENCHMARKS.md).
        // `return_to_pool` is the drop handler run eagerly (public, hidden from sqlx's
        // documentation; Cargo.lock pins sqlx).
        if let Some(mut conn) = self.conn.take() {
            conn.return_to_pool().await;
        }
    }

    /// Closes the connection (its transaction state cannot be trusted after a failed
    /// write); the pool opens a fresh one.
    pub(super) async fn close(mut self) {
        if let Some(conn) = self.conn.take()
            && let Err(error) = conn.close().await
        {
            tracing::debug!(error = %error, "Closing a failed queue writer connection failed");
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Neither released nor closed: on SQLite its commits may still skip the flush.
        // Take it out of the pool (the pool opens a fresh one, with `synchronous=FULL`)
        // and close it.
        if let Some(conn) = self.conn.take()
            && self.relaxes_connection()
        {
            drop(conn.detach());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::SqlQueue;
    use super::*;

    async fn synchronous(pool: &AnyPool) -> i64 {
        sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
            .fetch_one(pool)
            .await
            .expect("read synchronous")
    }

    /// FULL is 2, NORMAL 1.
    #[tokio::test]
    async fn a_released_connection_flushes_its_commits_again() {
        let (_dir, queue) = SqlQueue::temporary(Duration::from_secs(60)).await;
        let mut unflushed = Writer::acquire(Dialect::Sqlite, &queue.writer, Durability::Unflushed)
            .await
            .expect("acquire");
        let mut tx = unflushed.begin().await.expect("begin");
        let relaxed: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *tx)
            .await
            .expect("read synchronous");
        assert_eq!(relaxed, 1);
        tx.commit().await.expect("commit");
        unflushed.release().await;
        assert_eq!(synchronous(&queue.writer).await, 2);
    }

    #[tokio::test]
    async fn a_connection_dropped_while_relaxed_is_not_reused() {
        let (_dir, queue) = SqlQueue::temporary(Duration::from_secs(60)).await;
        let mut unflushed = Writer::acquire(Dialect::Sqlite, &queue.writer, Durability::Unflushed)
            .await
            .expect("acquire");
        unflushed
            .begin()
            .await
            .expect("begin")
            .commit()
            .await
            .expect("commit");
        drop(unflushed);
        // The single writer slot is free again, held by a fresh connection.
        assert_eq!(synchronous(&queue.writer).await, 2);
    }
}
