//! The queue in SQL, for SQLite (embedded, the default) and PostgreSQL (shared by several
//! runners). Both run the same statements through `sqlx::Any`; [`Dialect`] holds the few
//! differences.
//!
//! One file per concern: [`schema`] (connecting, durability settings, migrations),
//! [`dialect`] and [`states`] (what statements are made of), [`commit`] (the group
//! commit's transaction) with [`intake`] (new tasks and log rows) and [`completions`]
//! (delivery outcomes), [`counts`] (task counts kept per route and state), [`leases`], [`writer`] (the writer connection; leases and completions
//! commit without waiting for the disk), [`waiting`], [`claims`] (poll claims, heartbeats),
//! [`provenance`], [`api`] and [`actions`] (reads and operators' writes for the API),
//! [`gauges`] (metrics) and [`retention`].

mod actions;
mod api;
mod claims;
mod commit;
mod completions;
mod counts;
pub(crate) mod dialect;
mod gauges;
mod intake;
mod leases;
mod provenance;
mod retention;
mod rows;
mod schema;
pub(crate) mod states;
mod waiting;
mod writer;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::AnyPool;

use dialect::Dialect;
pub use schema::DEFAULT_BUSY_TIMEOUT;

use super::{
    Ack, LeaseAsk, LeasedTask, OnTimeout, PollClaim, QueueError, QueueStore, RouteActivity,
    RouteCounts, RouteGauges, RouteKey, TaskAction, TaskDetail, TaskFilter, TaskState, TaskSummary,
    WriteBatch, now_ms,
};

#[derive(Debug, thiserror::Error)]
pub enum QueueUrlError {
    #[error("unsupported queue URL scheme in `{0}`; use sqlite:// or postgres://")]
    Scheme(String),
    #[error("cannot connect to the queue database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// The SQL queue store.
pub struct SqlQueue {
    dialect: Dialect,
    /// Writes go through this pool. On SQLite it holds one connection: SQLite has a
    /// single writer, and queueing in the pool is cheaper than `SQLITE_BUSY` retries.
    writer: AnyPool,
    /// Reads for the API. On SQLite, WAL lets them run beside the writer.
    reader: AnyPool,
    lease_duration: Duration,
    /// The lease statement, built once for the dialect.
    lease_sql: String,
    /// When a lease last took expired leases back (ms since the epoch; see
    /// `leases::TAKE_BACK_EVERY`).
    taken_back_at: std::sync::atomic::AtomicI64,
}

impl SqlQueue {
    /// The default queue: a SQLite file in `data_dir`.
    pub fn default_url(data_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("queue.db").display())
    }

    /// The key-value storage in the same database, sharing this queue's pools (SQLite
    /// keeps its single writer).
    pub fn storage(&self) -> crate::storage::SqlStorage {
        crate::storage::SqlStorage::new(self.writer.clone(), self.reader.clone())
    }

    /// The audit trail in the same database, sharing this queue's pools.
    pub fn audit(&self) -> crate::audit::SqlAudit {
        crate::audit::SqlAudit::new(self.writer.clone(), self.reader.clone())
    }

    /// The Notification state in the same database, sharing this queue's pools.
    pub fn notifications(&self) -> crate::notify::SqlNotifications {
        crate::notify::SqlNotifications::new(self.dialect, self.writer.clone(), self.reader.clone())
    }
}

#[async_trait]
impl QueueStore for SqlQueue {
    async fn write(&self, batch: WriteBatch) -> Result<(), QueueError> {
        self.write_durably(&batch, &[], now_ms()).await.map(|_| ())
    }

    async fn write_and_lease(
        &self,
        batch: WriteBatch,
        leases: &[LeaseAsk],
        now_ms: i64,
    ) -> Result<Vec<Result<Vec<LeasedTask>, QueueError>>, QueueError> {
        self.write_durably(&batch, leases, now_ms).await
    }

    async fn probe(&self) -> Result<(), QueueError> {
        self.probe_write().await
    }

    async fn claim_poll(&self, claim: &PollClaim, lease: Duration) -> Result<bool, QueueError> {
        self.claim_poll_row(claim, lease).await
    }

    async fn renew_poll(&self, claim: &PollClaim, lease: Duration) -> Result<bool, QueueError> {
        Self::renew_claim_on(&self.writer, claim, lease).await
    }

    async fn release_poll(&self, claim: &PollClaim) -> Result<(), QueueError> {
        self.release_claim(claim).await
    }

    async fn heartbeat(&self, holder: &str, ttl: Duration) -> Result<u32, QueueError> {
        self.beat(holder, ttl).await
    }

    async fn prune_provenance(&self) -> Result<u64, QueueError> {
        self.prune_kept_steps().await
    }

    async fn lease(
        &self,
        route: &RouteKey,
        limit: u32,
        now_ms: i64,
    ) -> Result<Vec<LeasedTask>, QueueError> {
        self.lease_tasks(route, limit, now_ms).await
    }

    async fn gauges(&self, routes: &[RouteKey]) -> Result<Vec<RouteGauges>, QueueError> {
        self.read_gauges(routes).await
    }

    async fn counts(&self, namespace: &str) -> Result<Vec<RouteCounts>, QueueError> {
        self.count_tasks(namespace).await
    }

    async fn list(
        &self,
        namespace: &str,
        filter: &TaskFilter,
    ) -> Result<Vec<TaskSummary>, QueueError> {
        self.list_tasks(namespace, filter).await
    }

    async fn get(&self, namespace: &str, id: &str) -> Result<Option<TaskDetail>, QueueError> {
        self.get_task(namespace, id).await
    }

    async fn act(
        &self,
        namespace: &str,
        id: &str,
        action: &TaskAction,
    ) -> Result<Option<TaskState>, QueueError> {
        self.act_on(namespace, id, action).await
    }

    async fn undelivered(&self, route: &RouteKey, at_most: u64) -> Result<u64, QueueError> {
        self.count_undelivered(route, at_most).await
    }

    async fn activity(&self, route: &RouteKey) -> Result<RouteActivity, QueueError> {
        self.route_activity(route).await
    }

    async fn purge(&self, states: &[TaskState], before_ms: i64) -> Result<u64, QueueError> {
        self.purge_tasks(states, before_ms).await
    }

    async fn ack_correlated(
        &self,
        route: &RouteKey,
        correlation: &str,
        ack: &Ack,
    ) -> Result<Vec<String>, QueueError> {
        self.ack_by_correlation(route, correlation, ack).await
    }

    async fn expire_waiting(
        &self,
        route: &RouteKey,
        now_ms: i64,
        on_timeout: OnTimeout,
        reason: &str,
    ) -> Result<Vec<(String, TaskState)>, QueueError> {
        self.expire(route, now_ms, on_timeout, reason).await
    }

    async fn retry_failed(&self, route: &RouteKey, actor: &str) -> Result<u64, QueueError> {
        self.retry_failed_tasks(route, actor).await
    }
}

#[cfg(test)]
impl SqlQueue {
    /// An embedded queue in a fresh temporary directory, removed when the directory
    /// handle is dropped (keep it for as long as the queue).
    #[allow(clippy::expect_used)]
    pub(crate) async fn temporary(lease: Duration) -> (tempfile::TempDir, Self) {
        let dir = tempfile::tempdir().expect("temp dir");
        let queue = Self::connect(&Self::default_url(dir.path()), lease)
            .await
            .expect("queue");
        (dir, queue)
    }
}

/// A queue URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
