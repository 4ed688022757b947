//! The durable queue: one task per item.
//!
//! # Invariants
//! - **Accepted means durable.** [`Committer::enqueue`] returns only after the tasks are
//!   committed and the commit is flushed to disk (SQLite `synchronous=FULL` in WAL mode,
//!   PostgreSQL's default `synchronous_commit=on`). Callers acknowledge their senders
//!   only then.
//! - **At-least-once.** A task leaves `pending` only by being leased. A lease lasts
//!   [`DEFAULT_LEASE_DURATION`] unless configured; a runner that dies holding it loses
//!   nothing: once the lease has expired the task is leased again. An embedded SQLite
//!   queue belongs to one runner, so at start-up that runner takes back every lease at
//!   once instead of waiting for them to expire. A completion carries the lease token and is
//!   ignored if the lease was lost meanwhile, so a slow runner cannot overwrite the work
//!   of the runner that took over.
//! - **Ordering.** Tasks of a route are leased in order of next attempt time, then
//!   creation (ids are UUIDv7). Concurrent delivery and retries mean delivery order is
//!   not guaranteed.
//! - **A failed commit fails every caller.** When a transaction fails (disk full, I/O
//!   error, read-only storage, a lock held past its time-out, a lost connection) every
//!   caller waiting on it gets the error, and its connection is closed rather than
//!   reused: after such an error SQLite may have rolled the transaction back on its own,
//!   and a connection whose transaction state is unknown could turn the next commit into
//!   the release of a savepoint inside a transaction that never ends. When PostgreSQL's
//!   answer to `COMMIT` is lost, the outcome is asked of the server
//!   (`txid_status`), never guessed. While commits fail, [`Committer`] reports the fault
//!   (readiness, metrics, log) and probes the store until a commit succeeds again.
//! - **Group commit.** Writes from many callers are merged into one transaction (one
//!   fsync) by the [`Committer`], so throughput does not stop at one fsync per item.
//! - **Waiting.** A task of a route with `outgoing.await` is `waiting` after a
//!   successful send, until an acknowledgement (by id or by correlation value) makes it
//!   `done` or `failed`, or its deadline passes ([`QueueStore::expire_waiting`]). No
//!   lease takes a waiting task, and a restart leaves it waiting.
//! - **Nothing vanishes.** A task that runs out of attempts is `failed` and waits for a
//!   human (retry or discard through the API); `done`, `failed` and `skipped` tasks keep
//!   their item and log.

mod backoff;
mod committer;
mod fault;
pub mod provenance;
mod sql;
mod types;

pub use backoff::backoff_delay;
pub use committer::{CommitFailure, Committer};
pub use fault::StorageFault;
pub(crate) use sql::dialect::Dialect as SqlDialect;
pub(crate) use sql::states as sql_states;
pub use sql::{DEFAULT_BUSY_TIMEOUT, QueueUrlError, SqlQueue};
pub use types::*;

use std::time::Duration;

use async_trait::async_trait;

/// How long a leased task belongs to one runner before another may take it. It must
/// exceed the longest delivery (HTTP time-outs default to 30 s), or a slow delivery
/// would be taken over and sent twice.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(60);

/// Errors of the queue store.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue database error during {operation}: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("queue schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("task {id} is {state} and cannot be {action}")]
    InvalidTransition {
        id: String,
        state: TaskState,
        action: &'static str,
    },
    #[error(
        "task {id} records input that could not be read and cannot be retried: fix the \
         input and put it back (a file: into the polled folder), then discard this task"
    )]
    NotRetriable { id: String },
    #[error(
        "task {id} records a call through the route's HTTP proxy, which is over; only its \
         caller can make it again"
    )]
    ProxiedCall { id: String },
    #[error(
        "the connection to the queue database was lost while committing and the outcome \
         could not be confirmed: {source}"
    )]
    CommitUnknown {
        #[source]
        source: sqlx::Error,
    },
    #[error("the queue writer has stopped")]
    WriterStopped,
    #[error("stored task {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
    /// A poll's commit found that its runner no longer holds the poll's claim (it
    /// stalled past the claim's lease and another replica took the route over): nothing
    /// was written, and the input stays for the claimant.
    #[error(
        "the poll of route {namespace}/{route} lost its claim on tick {tick_ms} to another \
         runner; nothing of it was committed"
    )]
    ClaimLost {
        namespace: String,
        route: String,
        tick_ms: i64,
    },
    /// A manual poll while another poll of the route runs (on this or another runner).
    #[error(
        "route {namespace}/{route} is being polled right now (by this or another runner); \
         try again once that poll is over"
    )]
    PollBusy { namespace: String, route: String },
}

impl QueueError {
    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }
}

/// The queue's storage. One SQL implementation serves SQLite and PostgreSQL
/// ([`SqlQueue`]); the trait keeps the engine independent of it and lets tests run the
/// engine's rules against a model.
#[async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Commits new tasks and completions in one durable transaction.
    async fn write(&self, batch: WriteBatch) -> Result<(), QueueError>;
    /// Commits `batch` and, in the same transaction, leases for each of `leases` after
    /// the batch's tasks and completions are written (a task queued or handed back in
    /// it can be leased at once), with `now_ms` as the time of every change. `Err`:
    /// nothing was committed, nothing leased. `Ok`: one answer per ask, in order; an ask
    /// whose leased rows cannot be read back fails alone (its tasks stay leased until
    /// their lease runs out). Items are not read here: an item that is not JSON fails
    /// its own attempt ([`StoredItem::read`]).
    async fn write_and_lease(
        &self,
        batch: WriteBatch,
        leases: &[LeaseAsk],
        now_ms: i64,
    ) -> Result<Vec<Result<Vec<LeasedTask>, QueueError>>, QueueError>;
    /// Leases up to `limit` ready tasks of a route (pending and due, or processing with
    /// an expired lease): they become `processing` with one more attempt.
    async fn lease(
        &self,
        route: &RouteKey,
        limit: u32,
        now_ms: i64,
    ) -> Result<Vec<LeasedTask>, QueueError>;
    /// Task counts per state and the oldest pending task of each of `routes` (for
    /// `/metrics`; other routes' tasks are not reported).
    async fn gauges(&self, routes: &[RouteKey]) -> Result<Vec<RouteGauges>, QueueError>;
    /// Task counts per route and state in a namespace.
    async fn counts(&self, namespace: &str) -> Result<Vec<RouteCounts>, QueueError>;
    /// Tasks in a namespace, oldest first, after the `cursor` id.
    async fn list(
        &self,
        namespace: &str,
        filter: &TaskFilter,
    ) -> Result<Vec<TaskSummary>, QueueError>;
    /// One task with its item and log.
    async fn get(&self, namespace: &str, id: &str) -> Result<Option<TaskDetail>, QueueError>;
    /// Applies an operator's action to one task. `Ok(None)`: no such task.
    async fn act(
        &self,
        namespace: &str,
        id: &str,
        action: &TaskAction,
    ) -> Result<Option<TaskState>, QueueError>;
    /// Undelivered tasks (`pending` or `processing`) of a route, counting no further
    /// than `at_most`: the cost of the count is bounded by the limit it is checked
    /// against, however long the backlog (back-pressure).
    async fn undelivered(&self, route: &RouteKey, at_most: u64) -> Result<u64, QueueError>;
    /// Counts, oldest pending task, last delivery and last error of one route.
    async fn activity(&self, route: &RouteKey) -> Result<RouteActivity, QueueError>;
    /// Deletes tasks in `states` last updated before `before_ms`, with their logs;
    /// returns how many. Retention only: `pending` and `processing` are never purged.
    async fn purge(&self, states: &[TaskState], before_ms: i64) -> Result<u64, QueueError>;
    /// Acknowledges every `waiting` task of a route whose correlation value is
    /// `correlation` (a callback); returns their ids.
    async fn ack_correlated(
        &self,
        route: &RouteKey,
        correlation: &str,
        ack: &Ack,
    ) -> Result<Vec<String>, QueueError>;
    /// Ends the `waiting` tasks of a route whose deadline is at or before `now_ms`:
    /// `failed`, or `pending` again as `on_timeout` says, with `reason` in their log.
    /// Returns each with its new state.
    async fn expire_waiting(
        &self,
        route: &RouteKey,
        now_ms: i64,
        on_timeout: OnTimeout,
        reason: &str,
    ) -> Result<Vec<(String, TaskState)>, QueueError>;
    /// Puts every failed task of a route back to `pending`, except those recording
    /// unreadable input (see [`UNREADABLE_SOURCE`]) or proxied calls (see
    /// [`PROXY_SOURCE`]); returns how many.
    async fn retry_failed(&self, route: &RouteKey, actor: &str) -> Result<u64, QueueError>;
    /// Claims `claim.tick_ms` of a route's poll schedule for `claim.holder`, for
    /// `lease`. `true`: this runner polls that tick. `false`: another runner claimed it
    /// (or a later one), or is still polling an earlier one.
    async fn claim_poll(&self, claim: &PollClaim, lease: Duration) -> Result<bool, QueueError>;
    /// Extends a held claim by `lease`; `false` if it is no longer held.
    async fn renew_poll(&self, claim: &PollClaim, lease: Duration) -> Result<bool, QueueError>;
    /// Ends a held claim: the route's next tick may be claimed at once.
    async fn release_poll(&self, claim: &PollClaim) -> Result<(), QueueError>;
    /// Records that runner `holder` is alive and returns how many runners were seen
    /// within `ttl` (itself included); forgets runners not seen for long.
    async fn heartbeat(&self, holder: &str, ttl: Duration) -> Result<u32, QueueError>;
    /// Drops the items after each step kept with done tasks of routes that keep them
    /// only for failed tasks (`processing.keepSteps: failed`), and the provenance of
    /// deleted tasks; returns how many tasks lost their steps.
    async fn prune_provenance(&self) -> Result<u64, QueueError>;
    /// A small durable write that succeeds only when commits do: the [`Committer`]
    /// calls it while commits fail, to learn that the storage has recovered.
    async fn probe(&self) -> Result<(), QueueError> {
        self.write(WriteBatch::default()).await
    }
}
