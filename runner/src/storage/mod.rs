//! Storage: the per-tenant key-value space that lives in the queue database.
//!
//! Entries are JSON values under `(namespace, storage, key)`, with an optional
//! time-to-live. Transformer steps use it (get/put/delete, "only new or changed",
//! incremental cursors, after-delivery writes), connectors keep their cursors in it, and
//! the API shows and edits it (`/api/v1/namespaces/{ns}/storages/{storage}/items/{key}`).
//!
//! # Invariants
//! - An expired entry is never returned, whether or not it has been purged yet.
//! - A `put` replaces the whole entry (value and time-to-live) atomically.
//! - [`SqlStorage`] shares the queue's database and pools, so storage writes are as
//!   durable as queued tasks.

pub mod cursor;
mod memory;
mod sql;

pub use cursor::{CursorState, CursorUpdate};
pub use memory::MemoryStorage;
pub use sql::SqlStorage;
pub(crate) use sql::put_on;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Errors of the storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage database error during {operation}: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("stored entry `{storage}/{key}` is not valid JSON: {source}")]
    Corrupt {
        storage: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

impl StorageError {
    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }

    /// A static label for metrics and events.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Database { .. } => "storage_database",
            Self::Corrupt { .. } => "storage_corrupt",
        }
    }
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageEntry {
    pub key: String,
    /// Any JSON value.
    #[schema(value_type = Object)]
    pub value: Value,
    /// When it was last written (milliseconds since the Unix epoch).
    pub updated_at_ms: i64,
    /// When it expires (milliseconds since the Unix epoch); absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
}

/// Where an entry lives: a named storage in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageScope {
    pub namespace: String,
    pub storage: String,
}

impl StorageScope {
    pub fn new(namespace: impl Into<String>, storage: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            storage: storage.into(),
        }
    }
}

/// The key-value storage. [`SqlStorage`] is the real one; [`MemoryStorage`] serves
/// tests and `runner test`.
#[async_trait]
pub trait StorageStore: Send + Sync + 'static {
    /// The live (unexpired) entry under `key`.
    async fn get(
        &self,
        scope: &StorageScope,
        key: &str,
    ) -> Result<Option<StorageEntry>, StorageError>;
    /// Writes `value` under `key`, replacing any entry; it expires after `ttl` if given.
    async fn put(
        &self,
        scope: &StorageScope,
        key: &str,
        value: &Value,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError>;
    /// Deletes the entry; `true` if there was a live one.
    async fn delete(&self, scope: &StorageScope, key: &str) -> Result<bool, StorageError>;
    /// Live entries of a storage in key order, after `after`, at most `limit`.
    async fn list(
        &self,
        scope: &StorageScope,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StorageEntry>, StorageError>;
    /// Deletes expired entries; returns how many.
    async fn purge_expired(&self) -> Result<u64, StorageError>;
}

/// Expiry time for a time-to-live from `now_ms`.
pub(crate) fn expires_at(now_ms: i64, ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|ttl| now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)))
}

#[cfg(test)]
pub(crate) mod contract {
    //! The behaviour every [`StorageStore`] must show; run against each implementation.

    use serde_json::json;

    use super::*;

    pub async fn check(store: &dyn StorageStore) {
        let scope = StorageScope::new("shop", "orders");
        let other = StorageScope::new("other", "orders");
        assert_eq!(store.get(&scope, "a").await.ok().flatten(), None);
        store
            .put(&scope, "a", &json!({"n": 1}), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .put(&scope, "a", &json!({"n": 2}), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .put(&scope, "b", &json!("x"), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got = store
            .get(&scope, "a")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.map(|e| e.value), Some(json!({"n": 2})));
        assert_eq!(store.get(&other, "a").await.ok().flatten(), None);
        // Expired entries are invisible even before a purge.
        store
            .put(&scope, "gone", &json!(1), Some(Duration::ZERO))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(store.get(&scope, "gone").await.ok().flatten(), None);
        store
            .put(&scope, "later", &json!(1), Some(Duration::from_secs(3600)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let listed = store
            .list(&scope, None, 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let keys: Vec<_> = listed.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "later"]);
        assert!(listed[2].expires_at_ms.is_some());
        let after = store
            .list(&scope, Some("a"), 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].key, "b");
        assert_eq!(store.purge_expired().await.ok(), Some(1));
        assert_eq!(store.delete(&scope, "a").await.ok(), Some(true));
        assert_eq!(store.delete(&scope, "a").await.ok(), Some(false));
    }
}
