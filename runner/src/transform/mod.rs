//! Transformer steps. Most steps are a [`Transform`]: one item in, zero or more out,
//! synchronous (the fast path). Steps that see the whole batch (one fetch or one webhook
//! request: sort, dedupe, aggregate) are a [`BatchTransform`]; steps that need storage
//! are an [`AsyncTransform`] and get a [`Context`]. The [`registry`] turns a manifest
//! `Step` into its implementation; a [`Pipeline`] runs a route's steps in order.

mod aggregate;
mod convert;
mod copy;
mod cursor;
mod dedupe;
mod filter;
mod interchange;
mod jq;
mod lookup;
mod map;
mod only_changed;
mod parse;
pub(crate) mod paths;
mod pipeline;
pub mod registry;
mod remove;
mod rename;
mod render;
mod set;
mod sort;
mod split;
mod storage_steps;
pub mod testing;
mod trigger;
pub(crate) mod validate;
mod value_map;

/// The codecs moved to [`crate::formats`]; this path stays for code written against it.
pub use crate::formats;
pub use jq::JqProgram;
pub use pipeline::{Pipeline, StepFailed};
pub use registry::{Resources, build_pipeline, build_pipeline_with};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::storage::{StorageError, StorageScope, StorageStore};

/// Why a step failed on an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("jq failed: {0}")]
    Jq(String),
    #[error("`{path}`: {reason}")]
    Path { path: String, reason: String },
    #[error("the item does not match its schema: {}", violations.join("; "))]
    Invalid { violations: Vec<String> },
    /// A document that cannot be read, or a value that cannot be written.
    #[error(transparent)]
    Format(#[from] crate::formats::FormatError),
    /// A received EDI interchange whose envelopes do not add up.
    #[error("{0}")]
    Envelope(Box<crate::formats::envelope::EnvelopeError>),
    /// Messages of a received EDI interchange that break the bundled dictionary, each
    /// naming its reference, the segment, its position and the element at fault.
    #[error("{0}")]
    Dictionary(Box<crate::formats::dictionary::Rejections>),
    /// The bundled dictionary cannot be read: a fault of the build, not of the item.
    #[error(transparent)]
    DictionaryData(#[from] crate::formats::dictionary::DataError),
    #[error("storage: {0}")]
    Storage(String),
    #[error("this step needs storage, which is not available here")]
    NoContext,
    /// A lookup failed; `transient` when the lookup service is down or slow (another
    /// attempt may succeed), not when it refused the request.
    #[error("Connection `{connection}`: {message}")]
    Lookup {
        connection: String,
        message: String,
        transient: bool,
    },
    #[error("{step} ({kind}) failed: {error}")]
    Nested {
        step: String,
        kind: &'static str,
        error: Box<TransformError>,
    },
}

impl From<StorageError> for TransformError {
    fn from(error: StorageError) -> Self {
        Self::Storage(error.to_string())
    }
}

impl TransformError {
    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Jq(_) => "jq",
            Self::Path { .. } => "path",
            Self::Invalid { .. } => "invalid",
            Self::Format(error) => error.category(),
            Self::Envelope(_) => "envelope",
            Self::Dictionary(rejections) => rejections.category(),
            Self::DictionaryData(error) => error.category(),
            Self::Storage(_) => "storage",
            Self::NoContext => "no_context",
            Self::Lookup { .. } => "lookup",
            Self::Nested { error, .. } => error.category(),
        }
    }

    /// Whether another attempt on the same item may succeed (a lookup service that is
    /// down); everything else fails the same way every time.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Lookup { transient, .. } => *transient,
            Self::Nested { error, .. } => error.is_transient(),
            _ => false,
        }
    }
}

/// One synchronous per-item step.
pub trait Transform: Send + Sync {
    /// A short name for logs, e.g. `jq` or `rename`.
    fn kind(&self) -> &'static str;
    /// Transforms `item`, pushing the resulting items to `out` (none filters it out).
    fn apply(&self, item: Value, out: &mut Vec<Value>) -> Result<(), TransformError>;
}

/// A step that sees every item of a batch at once.
pub trait BatchTransform: Send + Sync {
    fn kind(&self) -> &'static str;
    /// Transforms the batch. An error names the index of the item that caused it.
    fn apply_batch(&self, items: Vec<Value>) -> Result<Vec<Value>, (usize, TransformError)>;
}

/// A per-item step that needs the [`Context`] (storage).
#[async_trait]
pub trait AsyncTransform: Send + Sync {
    fn kind(&self) -> &'static str;
    async fn apply(
        &self,
        item: Value,
        context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError>;
}

/// A storage write that waits until the items it is about are safe: committed to the
/// queue (incoming pipeline) or delivered (outgoing pipeline).
#[derive(Debug, Clone, PartialEq)]
pub struct DeferredWrite {
    pub scope: StorageScope,
    pub key: String,
    pub value: Value,
    pub ttl: Option<Duration>,
}

/// An item an after-delivery `trigger` step queues for another route.
#[derive(Debug, Clone, PartialEq)]
pub struct Triggered {
    /// The route, in the same namespace.
    pub route: String,
    pub item: Value,
}

/// What asynchronous steps may use: the route's namespace and the storage.
pub struct Context {
    pub namespace: String,
    pub storage: Arc<dyn StorageStore>,
    deferred: Mutex<Vec<DeferredWrite>>,
    triggered: Mutex<Vec<Triggered>>,
    /// Stored values as they were when this run first read them.
    bases: Mutex<std::collections::HashMap<(StorageScope, String), Option<Value>>>,
}

impl Context {
    pub fn new(namespace: impl Into<String>, storage: Arc<dyn StorageStore>) -> Self {
        Self {
            namespace: namespace.into(),
            storage,
            deferred: Mutex::default(),
            triggered: Mutex::default(),
            bases: Mutex::default(),
        }
    }

    /// The stored value under `key` as it was when this run first asked: steps that
    /// compare a batch against storage (the cursor) see the same state for every item.
    pub async fn base(
        &self,
        scope: &StorageScope,
        key: &str,
    ) -> Result<Option<Value>, StorageError> {
        let memo = (scope.clone(), key.to_owned());
        if let Some(value) = self
            .bases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&memo)
        {
            return Ok(value.clone());
        }
        let value = self.storage.get(scope, key).await?.map(|e| e.value);
        self.bases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(memo, value.clone());
        Ok(value)
    }

    pub fn scope(&self, storage: &str) -> StorageScope {
        StorageScope::new(self.namespace.clone(), storage)
    }

    /// Queues a write for when the items are safe. A later write to the same key
    /// replaces an earlier one.
    pub fn defer(&self, write: DeferredWrite) {
        let mut deferred = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        deferred.retain(|w| w.scope != write.scope || w.key != write.key);
        deferred.push(write);
    }

    /// The writes deferred so far, in order; a pending one of the same key is looked up
    /// first, so a batch sees its own cursor.
    pub fn pending(&self, scope: &StorageScope, key: &str) -> Option<Value> {
        let deferred = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        deferred
            .iter()
            .find(|w| &w.scope == scope && w.key == key)
            .map(|w| w.value.clone())
    }

    /// Records an item to queue for another route (after delivery).
    pub fn trigger(&self, route: &str, item: Value) {
        self.triggered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Triggered {
                route: route.to_owned(),
                item,
            });
    }

    /// Takes the items the `trigger` steps recorded, in order.
    pub fn take_triggered(&self) -> Vec<Triggered> {
        std::mem::take(&mut *self.triggered.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Takes the deferred writes, to apply with [`apply_deferred`].
    pub fn take_deferred(&self) -> Vec<DeferredWrite> {
        std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Applies deferred writes, in order.
pub async fn apply_deferred(
    storage: &dyn StorageStore,
    writes: Vec<DeferredWrite>,
) -> Result<usize, StorageError> {
    let count = writes.len();
    for write in writes {
        storage
            .put(&write.scope, &write.key, &write.value, write.ttl)
            .await?;
    }
    Ok(count)
}

/// Whether a jq condition's output counts as true.
pub(crate) fn truthy(value: &Option<Value>) -> bool {
    !matches!(value, None | Some(Value::Null) | Some(Value::Bool(false)))
}

/// A key (storage, dedupe, value map) as text: strings as they are, others as JSON.
pub(crate) fn key_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
