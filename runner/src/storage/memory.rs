//! Storage in memory: for tests and `runner test`, where nothing must outlive the run.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{StorageEntry, StorageError, StorageScope, StorageStore, expires_at};
use crate::queue::now_ms;

#[derive(Default)]
pub struct MemoryStorage {
    entries: Mutex<BTreeMap<(StorageScope, String), StorageEntry>>,
}

impl MemoryStorage {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(StorageScope, String), StorageEntry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn live(entry: &StorageEntry, now: i64) -> bool {
    entry.expires_at_ms.is_none_or(|at| at > now)
}

#[async_trait]
impl StorageStore for MemoryStorage {
    async fn get(
        &self,
        scope: &StorageScope,
        key: &str,
    ) -> Result<Option<StorageEntry>, StorageError> {
        let now = now_ms();
        Ok(self
            .lock()
            .get(&(scope.clone(), key.to_owned()))
            .filter(|e| live(e, now))
            .cloned())
    }

    async fn put(
        &self,
        scope: &StorageScope,
        key: &str,
        value: &Value,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError> {
        let now = now_ms();
        self.lock().insert(
            (scope.clone(), key.to_owned()),
            StorageEntry {
                key: key.to_owned(),
                value: value.clone(),
                updated_at_ms: now,
                expires_at_ms: expires_at(now, ttl),
            },
        );
        Ok(())
    }

    async fn delete(&self, scope: &StorageScope, key: &str) -> Result<bool, StorageError> {
        let now = now_ms();
        Ok(self
            .lock()
            .remove(&(scope.clone(), key.to_owned()))
            .is_some_and(|e| live(&e, now)))
    }

    async fn list(
        &self,
        scope: &StorageScope,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StorageEntry>, StorageError> {
        let now = now_ms();
        Ok(self
            .lock()
            .iter()
            .filter(|((s, key), e)| {
                s == scope && after.is_none_or(|a| key.as_str() > a) && live(e, now)
            })
            .take(limit as usize)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn purge_expired(&self) -> Result<u64, StorageError> {
        let now = now_ms();
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, e| live(e, now));
        Ok((before - entries.len()) as u64)
    }

    async fn next_number(&self, scope: &StorageScope, key: &str) -> Result<i64, StorageError> {
        let now = now_ms();
        let mut entries = self.lock();
        let entry = entries
            .entry((scope.clone(), key.to_owned()))
            .or_insert_with(|| StorageEntry {
                key: key.to_owned(),
                value: Value::from(0),
                updated_at_ms: now,
                expires_at_ms: None,
            });
        if !live(entry, now) {
            entry.value = Value::from(0);
        }
        let next = entry.value.as_i64().unwrap_or(0) + 1;
        entry.value = Value::from(next);
        entry.updated_at_ms = now;
        entry.expires_at_ms = None;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_storage_meets_the_contract() {
        super::super::contract::check(&super::MemoryStorage::default()).await;
    }
}
