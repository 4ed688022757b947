//! Writes that need not reach the disk before they return: leases.
//!
//! A lease only moves a task from `pending` to `processing` under a token. Losing one to
//! a power cut costs nothing but a redelivery (the task is still `pending`, or its lease
//! runs out and is taken back), never an item: at-least-once holds without the fsync.
//! Every later durable commit flushes the log up to its own point, the leases before it
//! included (SQLite's WAL and PostgreSQL's WAL are both written in order, and recovery
//! keeps a prefix), so a completion on disk always finds its lease on disk too.
//!
//! On the single SQLite writer a lease used to cost one fsync like a commit of new
//! tasks; with the fsync gone, the writer spends its time on the commits that need it.
//!
//! - SQLite: `PRAGMA synchronous = NORMAL` for the lease's transaction (in WAL mode a
//!   commit is then durable against a crash of the process, not of the machine), set
//!   back to `FULL` before the connection returns to the pool. A connection whose
//!   setting could not be restored (an error, or the future dropped half way) is
//!   detached from the pool and closed, so no later commit runs unflushed.
//! - PostgreSQL: `SET LOCAL synchronous_commit = off` inside the transaction; it ends
//!   with the transaction.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Connection, Transaction};

use super::dialect::Dialect;
use crate::queue::QueueError;

/// The writer connection, borrowed for writes that may skip the flush.
pub(super) struct Unflushed {
    dialect: Dialect,
    /// `None` once released (or detached).
    conn: Option<PoolConnection<Any>>,
}

impl Unflushed {
    /// Takes the writer connection; on SQLite its commits stop waiting for the disk
    /// until [`Unflushed::release`].
    pub(super) async fn acquire(dialect: Dialect, pool: &AnyPool) -> Result<Self, QueueError> {
        let conn = pool
            .acquire()
            .await
            .map_err(QueueError::db("acquire the queue writer"))?;
        let mut unflushed = Self {
            dialect,
            conn: Some(conn),
        };
        if dialect == Dialect::Sqlite {
            sqlx::query("PRAGMA synchronous=NORMAL")
                .execute(&mut **unflushed.conn_mut())
                .await
                .map_err(QueueError::db("relax lease durability"))?;
        }
        Ok(unflushed)
    }

    fn conn_mut(&mut self) -> &mut PoolConnection<Any> {
        self.conn.as_mut().expect("an unflushed connection is used until released")
    }

    /// A transaction on the connection whose commit does not wait for the flush.
    pub(super) async fn begin(&mut self) -> Result<Transaction<'_, Any>, QueueError> {
        let dialect = self.dialect;
        let mut tx = Connection::begin(&mut **self.conn_mut())
            .await
            .map_err(QueueError::db("begin lease"))?;
        if dialect == Dialect::Postgres {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await
                .map_err(QueueError::db("relax lease durability"))?;
        }
        Ok(tx)
    }

    /// Makes the connection's commits durable again and hands it back to the pool.
    pub(super) async fn release(mut self) -> Result<(), QueueError> {
        if self.dialect == Dialect::Sqlite {
            sqlx::query("PRAGMA synchronous=FULL")
                .execute(&mut **self.conn_mut())
                .await
                .map_err(QueueError::db("restore commit durability"))?;
        }
        // Restored: the connection may go back to the pool.
        drop(self.conn.take());
        Ok(())
    }
}

impl Drop for Unflushed {
    fn drop(&mut self) {
        // Not released: on SQLite its commits may still skip the flush. Take it out of
        // the pool (the pool opens a fresh one, with `synchronous=FULL`) and close it.
        if let Some(conn) = self.conn.take()
            && self.dialect == Dialect::Sqlite
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
        let dir = tempfile::tempdir().expect("temp dir");
        let queue = SqlQueue::connect(&SqlQueue::default_url(dir.path()), Duration::from_secs(60))
            .await
            .expect("queue");
        let mut unflushed = Unflushed::acquire(Dialect::Sqlite, &queue.writer)
            .await
            .expect("acquire");
        let relaxed: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut **unflushed.conn_mut())
            .await
            .expect("read synchronous");
        assert_eq!(relaxed, 1);
        unflushed.release().await.expect("release");
        assert_eq!(synchronous(&queue.writer).await, 2);
    }

    #[tokio::test]
    async fn a_connection_dropped_while_relaxed_is_not_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let queue = SqlQueue::connect(&SqlQueue::default_url(dir.path()), Duration::from_secs(60))
            .await
            .expect("queue");
        let unflushed = Unflushed::acquire(Dialect::Sqlite, &queue.writer)
            .await
            .expect("acquire");
        drop(unflushed);
        // The single writer slot is free again, held by a fresh connection.
        assert_eq!(synchronous(&queue.writer).await, 2);
    }
}
