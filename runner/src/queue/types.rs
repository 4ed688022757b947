use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A route's identity in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteKey {
    pub namespace: String,
    pub route: String,
}

/// The life of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Waiting for its (next) attempt.
    Pending,
    /// Leased by a runner, being delivered.
    Processing,
    /// Delivered.
    Done,
    /// Out of attempts or permanently rejected; waits for a human.
    Failed,
    /// Filtered out or discarded by a human; will not be delivered.
    Skipped,
    /// Delivered; waiting for the receiver's acknowledgement (`outgoing.await`).
    Waiting,
}

impl TaskState {
    pub const ALL: [TaskState; 6] = [
        Self::Pending,
        Self::Processing,
        Self::Done,
        Self::Failed,
        Self::Skipped,
        Self::Waiting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Waiting => "waiting",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a task state; use pending, processing, done, failed, skipped or waiting")]
pub struct UnknownState(pub String);

impl FromStr for TaskState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// One line of a task's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    /// Microseconds since the Unix epoch.
    pub at_us: i64,
    pub message: String,
}

impl LogLine {
    pub fn now(message: impl Into<String>) -> Self {
        Self {
            at_us: now_us(),
            message: message.into(),
        }
    }
}

/// A task to create.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub id: String,
    pub route: RouteKey,
    pub item: serde_json::Value,
    /// `webhook`, `poll`, `manual`, [`UNREADABLE_SOURCE`] or [`PROXY_SOURCE`].
    pub source: &'static str,
    pub log: Vec<LogLine>,
    /// `Some(error)`: the task is stored already `failed` with this error and is never
    /// delivered (see [`NewTask::unreadable`]); `None`: it is `pending`, or `done` for
    /// a [`PROXY_SOURCE`] task.
    pub failure: Option<String>,
    /// How the item came to be (see [`crate::queue::provenance`]); `None`: nothing kept
    /// (no incoming steps: the item is the item as received).
    pub provenance: Option<std::sync::Arc<crate::queue::provenance::KeptRecord>>,
    /// The W3C `traceparent` of the span that queued it, while tracing is on
    /// ([`crate::telemetry::context::current`]).
    pub trace: Option<String>,
    /// `item` as the queue stores it, when the pipeline already wrote that text (the
    /// kept items of its last step); `None`: written from `item` when the task is
    /// inserted.
    pub stored: Option<StoredItem>,
}

/// The source of a task that records input a poll could not read (a file that is not
/// valid CSV…). Its item describes the input, not data to deliver, so it cannot be
/// retried: the input itself must be fixed and put back.
pub const UNREADABLE_SOURCE: &str = "unreadable";

/// The source of a task that records a call through a Route's HTTP proxy. The call is
/// over when the task is written: it is stored `done` (or `failed` with its error) after
/// one attempt, is never delivered and cannot be retried (only the caller can repeat a
/// call).
pub const PROXY_SOURCE: &str = "proxy";

impl NewTask {
    /// A finished proxied call: `done`, or `failed` with `error`.
    pub fn proxied(
        route: RouteKey,
        item: serde_json::Value,
        error: Option<String>,
        log: Vec<LogLine>,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            route,
            item,
            source: PROXY_SOURCE,
            log,
            failure: error,
            provenance: None,
            trace: crate::telemetry::context::current(),
            stored: None,
        }
    }

    /// The text to store for the task's `item`: the one the pipeline wrote, else
    /// `item` serialized now.
    pub fn item_text(&self) -> String {
        match &self.stored {
            Some(stored) => stored.text().to_owned(),
            None => StoredItem::of(&self.item).into_text(),
        }
    }

    /// The state the task is stored in, and its attempts so far.
    pub fn initial_state(&self) -> (TaskState, i64) {
        match (&self.failure, self.source) {
            (_, PROXY_SOURCE) if self.failure.is_some() => (TaskState::Failed, 1),
            (None, PROXY_SOURCE) => (TaskState::Done, 1),
            (Some(_), _) => (TaskState::Failed, 0),
            (None, _) => (TaskState::Pending, 0),
        }
    }

    /// A task queued in state `failed` that records input which could not be read:
    /// `item` says what (e.g. `{"file": …, "error": …}`, never the content), `error`
    /// is its `last_error`, `log` says what and where.
    pub fn unreadable(
        route: RouteKey,
        item: serde_json::Value,
        error: String,
        log: Vec<LogLine>,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            route,
            item,
            source: UNREADABLE_SOURCE,
            log,
            failure: Some(error),
            provenance: None,
            trace: crate::telemetry::context::current(),
            stored: None,
        }
    }
}

/// A leased task's item as the queue stored it: its JSON text (compact, as
/// `serde_json` wrote it). It is read into a value only where a step or a sink needs one:
/// a route without outgoing or after-delivery steps hands the text to its sink as it is
/// (see [`crate::connectors::Sink::send_stored`]), and a buffered task holds the text,
/// not a tree of values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredItem(String);

impl StoredItem {
    /// The item as stored: `text` is JSON, or reading it fails with the reason.
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// `value` as the queue stores it: compact JSON, written with `serde_json::to_string`
    /// (the same text as `Display` writes, without `fmt`'s adapter in between: about half
    /// the instructions).
    pub fn of(value: &serde_json::Value) -> Self {
        // A JSON value always serializes (its keys are strings).
        Self(serde_json::to_string(value).unwrap_or_default())
    }

    /// The stored JSON text, to write.
    pub fn into_text(self) -> String {
        self.0
    }

    /// The stored JSON text.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The item as a value; an error when the stored text is not JSON (a row edited by
    /// hand, or a damaged database).
    pub fn read(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The stored text, checked to be one JSON value (without building it), for a sink
    /// that sends it as it is.
    pub fn json(&self) -> Result<&str, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(&self.0)?;
        Ok(&self.0)
    }
}

/// A task handed to a runner for delivery.
#[derive(Debug, Clone)]
pub struct LeasedTask {
    pub id: String,
    pub route: RouteKey,
    pub item: StoredItem,
    /// Attempts including this one.
    pub attempts: i64,
    pub lease_token: String,
    /// When the task was committed (ms since the Unix epoch).
    pub created_at_ms: i64,
    /// The stored trace context (see [`NewTask::trace`]).
    pub trace: Option<String>,
}

/// A delivery worker's request for up to `limit` of a route's due tasks, answered in
/// the group commit's transaction (see [`crate::queue::QueueStore::write_and_lease`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseAsk {
    pub route: RouteKey,
    pub limit: u32,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// Try again at `next_attempt_at_ms`.
    Retry {
        next_attempt_at_ms: i64,
        error: String,
    },
    Failed {
        error: String,
    },
    Skipped,
    /// Not attempted after all (the runner stops): back to `pending` as it was.
    Released,
    /// Delivered; now `waiting` for an acknowledgement carrying `correlation` until
    /// `until_ms`.
    Waiting {
        correlation: String,
        until_ms: i64,
    },
}

/// The result of one attempt, written back under the lease it was made with.
#[derive(Debug, Clone)]
pub struct Completion {
    pub id: String,
    /// The leased task's route (from [`LeasedTask::route`]): the counts it moves. The
    /// queue writes a completion without reading the task's route back.
    pub route: RouteKey,
    pub lease_token: String,
    pub outcome: Outcome,
    pub log: Vec<LogLine>,
}

impl Completion {
    /// `outcome` for `task`, under its lease, with no log lines.
    pub fn of(task: &LeasedTask, outcome: Outcome) -> Self {
        Self {
            id: task.id.clone(),
            route: task.route.clone(),
            lease_token: task.lease_token.clone(),
            outcome,
            log: Vec::new(),
        }
    }
}

/// Everything one transaction writes.
#[derive(Debug, Default)]
pub struct WriteBatch {
    pub new_tasks: Vec<NewTask>,
    pub completions: Vec<Completion>,
    /// Storage entries written in the same transaction (a poll's advanced cursor): they
    /// commit with the tasks they cover, or not at all.
    pub storage: Vec<StoragePut>,
    /// The poll claim these tasks were fetched under: the transaction commits only if
    /// this runner still holds it (and renews it), else nothing is written
    /// ([`QueueError::ClaimLost`]).
    pub claim: Option<PollClaim>,
}

/// A storage entry to write together with a queue transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct StoragePut {
    pub scope: crate::storage::StorageScope,
    pub key: String,
    pub value: serde_json::Value,
}

/// One runner's claim on one tick of a route's poll schedule. Replicas on one queue
/// compute the same ticks (the schedule's occurrences), and only the runner whose claim
/// succeeded polls that tick (see [`crate::queue::QueueStore::claim_poll`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollClaim {
    pub route: RouteKey,
    /// The schedule occurrence, in ms since the epoch (a manual trigger: its time).
    pub tick_ms: i64,
    /// The claiming runner ([`crate::replicas::id`]).
    pub holder: String,
}

/// Task counts of one route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StateCounts {
    pub pending: i64,
    pub processing: i64,
    pub done: i64,
    pub failed: i64,
    pub skipped: i64,
    pub waiting: i64,
}

impl StateCounts {
    pub fn get(&self, state: TaskState) -> i64 {
        match state {
            TaskState::Pending => self.pending,
            TaskState::Processing => self.processing,
            TaskState::Done => self.done,
            TaskState::Failed => self.failed,
            TaskState::Skipped => self.skipped,
            TaskState::Waiting => self.waiting,
        }
    }

    pub fn add(&mut self, state: TaskState, count: i64) {
        match state {
            TaskState::Pending => self.pending += count,
            TaskState::Processing => self.processing += count,
            TaskState::Done => self.done += count,
            TaskState::Failed => self.failed += count,
            TaskState::Skipped => self.skipped += count,
            TaskState::Waiting => self.waiting += count,
        }
    }
}

/// Counts of one route in a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteCounts {
    pub route: String,
    pub counts: StateCounts,
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub route: Option<String>,
    pub state: Option<TaskState>,
    /// Only ids after this one.
    pub cursor: Option<String>,
    /// Only tasks whose item contains this text (case-insensitive), e.g. an order number.
    pub text: Option<String>,
    /// Only tasks created at or after this time (ms).
    pub created_after_ms: Option<i64>,
    /// Only tasks created before this time (ms).
    pub created_before_ms: Option<i64>,
    pub limit: u32,
}

/// A task without its item and log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    pub id: String,
    pub namespace: String,
    pub route: String,
    pub state: TaskState,
    pub source: String,
    pub attempts: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// While `waiting`: the deadline of the acknowledgement.
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    /// The value an acknowledgement carries (`outgoing.await.correlation`), once sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<String>,
    /// The id of the task's trace (OTLP traces, docs/tracing.md), when it was queued
    /// with tracing on and sampled: look it up in the tracing backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// A task with its item and every log line.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskDetail {
    #[serde(flatten)]
    pub summary: TaskSummary,
    /// The item as it was queued.
    pub item: serde_json::Value,
    pub log: Vec<LogLine>,
    /// How the item came to be: the item as received, the items after each incoming
    /// step, replays. Absent for a task of a route without incoming steps (its item is
    /// the item as received).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::queue::provenance::Provenance>,
}

/// What an operator can do to one task.
#[derive(Debug, Clone)]
pub enum TaskAction {
    /// Back to `pending`, due now, with a fresh attempt budget. Allowed from `failed`,
    /// `skipped` and `pending`, except for tasks from [`UNREADABLE_SOURCE`] and
    /// [`PROXY_SOURCE`].
    Retry { actor: String },
    /// To `skipped`. Allowed from `pending`, `failed` and `waiting`.
    Discard { actor: String, reason: String },
    /// The receiver's acknowledgement of a `waiting` task: to `done` or `failed`.
    Ack(Ack),
}

/// An acknowledgement of a waiting task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Who acknowledges: `API` (or the caller's name), `callback`.
    pub actor: String,
    pub outcome: AckOutcome,
    /// For the task log; a failed task's error.
    pub message: Option<String>,
}

/// What the receiver says became of a waiting task's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AckOutcome {
    /// The work is done: the task becomes `done`.
    Done,
    /// The work failed: the task becomes `failed` and waits for a human.
    Failed,
}

impl Ack {
    /// The task's new state.
    pub fn target(&self) -> TaskState {
        match self.outcome {
            AckOutcome::Done => TaskState::Done,
            AckOutcome::Failed => TaskState::Failed,
        }
    }

    /// The task-log line, e.g. `Acknowledged by callback: failed (out of stock)`.
    pub fn log_line(&self) -> String {
        let outcome = match self.outcome {
            AckOutcome::Done => "done",
            AckOutcome::Failed => "failed",
        };
        match &self.message {
            Some(message) => format!("Acknowledged by {}: {outcome} ({message})", self.actor),
            None => format!("Acknowledged by {}: {outcome}", self.actor),
        }
    }
}

/// What a timed-out waiting task becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// `failed`.
    Fail,
    /// `pending` again, due now, while it has fewer than `max_attempts` attempts;
    /// else `failed`.
    Retry { max_attempts: u32 },
}

pub fn now_ms() -> i64 {
    now_us() / 1000
}

pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What a route's queue looks like now, for status reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteActivity {
    pub counts: StateCounts,
    /// Creation time of the oldest pending task.
    pub oldest_pending_ms: Option<i64>,
    /// When a task was last delivered.
    pub last_done_ms: Option<i64>,
    /// The most recent standing error: `(task id, time, message)`.
    pub last_error: Option<(String, i64, String)>,
}

/// A route's queue gauges (for `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteGauges {
    pub route: RouteKey,
    pub counts: StateCounts,
    /// Commit time of the oldest pending task.
    pub oldest_pending_ms: Option<i64>,
}
