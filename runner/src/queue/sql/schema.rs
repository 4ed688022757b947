//! Opening the queue: the pools (SQLite's single writer and its readers, or one
//! PostgreSQL pool), the connection settings that make a commit durable, the schema
//! migrations, and the one-off fix-ups a fresh start needs.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;

use super::{Dialect, QueueUrlError, SqlQueue, commit, redact_url};
use crate::queue::QueueError;

/// How long a SQLite write waits for a lock another process holds before it fails
/// (`SQLITE_BUSY`, a failed commit like any other).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl SqlQueue {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and migrates the schema.
    /// Leases last `lease_duration`.
    pub async fn connect(url: &str, lease_duration: Duration) -> Result<Self, QueueUrlError> {
        Self::connect_with(url, lease_duration, DEFAULT_BUSY_TIMEOUT).await
    }

    /// [`SqlQueue::connect`] with SQLite's lock wait set to `busy_timeout`.
    pub async fn connect_with(
        url: &str,
        lease_duration: Duration,
        busy_timeout: Duration,
    ) -> Result<Self, QueueUrlError> {
        sqlx::any::install_default_drivers();
        let busy_timeout_ms = busy_timeout.as_millis();
        let Some(dialect) = Dialect::of_url(url) else {
            return Err(QueueUrlError::Scheme(redact_url(url)));
        };
        let (writer, reader) = match dialect {
            Dialect::Sqlite => {
                let options = || {
                    AnyPoolOptions::new().after_connect(move |conn, _| {
                        Box::pin(async move {
                            // WAL with FULL sync: every commit is fsynced, so a committed
                            // task survives power loss, not only a crash.
                            sqlx::query("PRAGMA journal_mode=WAL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA synchronous=FULL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query(&format!("PRAGMA busy_timeout={busy_timeout_ms}"))
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                };
                // The one writer connection is local and never idles long: pinging it
                // before every lease and commit (sqlx's default) is a round trip to its
                // worker thread on the hot path and finds nothing. A connection a
                // failed write left untrusted is closed instead (`writer`).
                let writer = commit::untrusted_connections_closed(options())
                    .max_connections(1)
                    .test_before_acquire(false)
                    .connect(url)
                    .await
                    .map_err(QueueUrlError::Connect)?;
                let reader = options()
                    .max_connections(4)
                    .connect(url)
                    .await
                    .map_err(QueueUrlError::Connect)?;
                (writer, reader)
            }
            Dialect::Postgres => {
                let pool = commit::untrusted_connections_closed(AnyPoolOptions::new())
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
                    .map_err(QueueUrlError::Connect)?;
                (pool.clone(), pool)
            }
        };
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(QueueError::from)?;
        let queue = Self {
            dialect,
            writer,
            reader,
            lease_duration,
            lease_sql: super::leases::lease_sql(dialect),
            taken_back_at: std::sync::atomic::AtomicI64::new(i64::MIN),
        };
        match dialect {
            Dialect::Sqlite => queue.reclaim_leases().await?,
            Dialect::Postgres => queue.tune_vacuum().await?,
        }
        Ok(queue)
    }

    /// Every task row is updated two or three times in its life, and every lease walks
    /// the index over the dead versions left behind until a vacuum removes them. The
    /// default (vacuum after 20 % of the table changed) lets a busy queue slow itself
    /// down; vacuum this table early and without throttling.
    async fn tune_vacuum(&self) -> Result<(), QueueError> {
        sqlx::query(
            "ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0.01, \
             autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0, \
             autovacuum_analyze_scale_factor = 0.02)",
        )
        .execute(&self.writer)
        .await
        .map_err(QueueError::db("tune vacuum"))?;
        Ok(())
    }
}
