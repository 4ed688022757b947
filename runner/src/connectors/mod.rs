//! Connectors: one folder per connection kind (`http/`, `database/`, `soap/`, `files/`
//! with one folder per file service: `local/`, `sftp/`, `ftp/`, `s3/`), each with its
//! config resolution, its incoming side (a [`Source`]), its outgoing side (a [`Sink`])
//! and its probe behind [`registry::Connector`]. The [`registry`] is the one list of
//! kinds; `webhook/` is the incoming HTTP side every Route can use.

pub mod database;
pub mod files;
pub mod ftp;
pub mod http;
pub mod incremental;
pub mod local;
pub mod registry;
pub mod s3;
pub mod sftp;
pub mod soap;
pub mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::queue::StoredItem;

/// The incoming side of a polling route: fetches items on the schedule or on a manual
/// trigger.
#[async_trait]
pub trait Source: Send + Sync {
    /// Fetches every item available now (all pages).
    async fn fetch(&self) -> Result<Vec<Value>, SourceError>;

    /// Fetches every item available now in batches that are queued one at a time, each
    /// with a hook to run once its tasks are committed (move a file, advance a
    /// cursor). The default is one batch from [`Source::fetch`] without a hook.
    async fn fetch_batches(&self, _context: &PollContext<'_>) -> Result<Vec<Batch>, SourceError> {
        Ok(vec![Batch {
            label: String::new(),
            items: self.fetch().await?,
            error: None,
            after_commit: None,
        }])
    }
}

/// What a poll may use besides its own Connection.
pub struct PollContext<'a> {
    /// The tenant's key-value storage (cursors).
    pub storage: &'a std::sync::Arc<dyn crate::storage::StorageStore>,
    pub namespace: &'a str,
    pub route: &'a str,
}

/// Items queued together (all or none), e.g. the records of one file.
pub struct Batch {
    /// Where the items came from (a file path…), for logs; may be empty.
    pub label: String,
    pub items: Vec<Value>,
    /// Why the batch could not be read (e.g. not valid CSV, with the line); its items
    /// are then empty and only [`AfterCommit::rejected`] runs.
    pub error: Option<String>,
    /// Runs after the batch's tasks are durable, never before.
    pub after_commit: Option<Box<dyn AfterCommit>>,
}

/// The step a source takes once a batch is settled.
#[async_trait]
pub trait AfterCommit: Send + Sync {
    /// Storage to write in the very transaction that commits the batch's tasks (an
    /// advanced cursor), so that a crash cannot separate the two. Taken once, before
    /// the commit; what is taken is not written again by [`AfterCommit::committed`].
    fn commit_with(&mut self) -> Option<crate::queue::StoragePut> {
        None
    }
    /// The batch's tasks are committed to the queue.
    async fn committed(self: Box<Self>) -> Result<(), SourceError>;
    /// The batch can never be queued (unreadable, or its pipeline failed); `reason`
    /// says why. Not called when the queue itself failed: the batch is then read again.
    async fn rejected(self: Box<Self>, reason: &str) -> Result<(), SourceError>;
    /// Whether [`AfterCommit::rejected`] takes the input away (a file moved to the failed
    /// folder) and how. If so, the poller first queues a task in state `failed` that
    /// records the rejection, so it shows in the task list and not only in the runner's
    /// log. `None` (the default): the input stays and is read again on the next poll.
    fn removal(&self) -> Option<Removal> {
        None
    }
}

/// What [`AfterCommit::rejected`] does with input it takes away, for the task that
/// records the rejection.
pub struct Removal {
    /// Identifies the input for an operator (e.g. `{"file": …, "movedTo": …}`), never
    /// its content, which may be large.
    pub item: serde_json::Map<String, Value>,
    /// Where the input goes and how to have it read again, for the task log.
    pub note: String,
}

/// Why a fetch failed; the text says where (page, URL, file…), secrets redacted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// The outgoing side of a route: delivers items.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Delivers `item` once. `idempotency_key` (the task id) lets the receiver drop
    /// duplicates of an at-least-once delivery.
    async fn send(
        &self,
        item: &Value,
        idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError>;

    /// Delivers an item as the queue stored it, for a route without outgoing or
    /// after-delivery steps: the default reads it ([`read_stored`]) and sends the value
    /// with [`Sink::send`]; a sink that sends items as JSON may send the text as it is,
    /// without reading it into a value and writing it out again.
    async fn send_stored(
        &self,
        item: &StoredItem,
        idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        self.send(&read_stored(item)?, idempotency_key).await
    }

    /// Most tasks the engine hands to [`Sink::send_batch`] at once. 1 (the default):
    /// tasks are sent one by one, each with [`Sink::send`].
    fn batch_size(&self) -> usize {
        1
    }

    /// How long a batch that is not full may wait for more tasks. Zero (the default):
    /// the tasks already leased go out at once.
    fn batch_wait(&self) -> Duration {
        Duration::ZERO
    }

    /// Delivers several items together (a database writes them in one transaction).
    /// One result per item, in order: one item's failure does not fail the others.
    async fn send_batch(
        &self,
        items: &[(&Value, &str)],
    ) -> Vec<Result<DeliveryReport, DeliveryError>> {
        let mut results = Vec::with_capacity(items.len());
        for (item, key) in items {
            results.push(self.send(item, key).await);
        }
        results
    }
}

/// A stored item read into a value. Text that is not JSON (a row edited by hand, a
/// damaged database) cannot make a request, and trying again cannot help: the task
/// fails with the reason (serde_json's, which names a position, not the content).
pub fn read_stored(item: &StoredItem) -> Result<Value, DeliveryError> {
    item.read().map_err(stored_not_json)
}

/// A stored item's text, checked to be JSON (see [`read_stored`]), to send as it is.
pub fn stored_json(item: &StoredItem) -> Result<&str, DeliveryError> {
    item.json().map_err(stored_not_json)
}

fn stored_not_json(error: serde_json::Error) -> DeliveryError {
    DeliveryError::Request(format!("the stored item is not JSON: {error}"))
}

/// A successful delivery.
#[derive(Debug, Clone)]
pub struct DeliveryReport {
    /// One task-log line, e.g. `POST https://… → 200 OK in 3 ms`.
    pub summary: String,
    /// The receiver's answer, for the after-delivery steps (`response`). `None` when
    /// the sink was not asked to keep it (reading HTTP bodies costs) or has none.
    pub response: Option<Value>,
}

/// A failed delivery. Each sink classifies its own errors (see its `is_retriable`
/// tests); the engine only asks whether another attempt may help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// The receiver refused the item for a reason a retry will not change.
    #[error("{0}")]
    Rejected(String),
    /// The receiver is down, overloaded or slow; try again later.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The item cannot be turned into a request; retrying the same item cannot help.
    #[error("cannot build the request: {0}")]
    Request(String),
}

impl DeliveryError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Rejected(_) => "delivery_rejected",
            Self::Unavailable { .. } => "delivery_unavailable",
            Self::Request(_) => "delivery_request",
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// The wait the receiver asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Whether a Connection's system answers and accepts the credentials, without moving
/// data. Shown on the Connection's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub ok: bool,
    /// What was found, for a human (secrets masked).
    pub message: String,
}
