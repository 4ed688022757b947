//! Storage in the queue database (SQLite or PostgreSQL through `sqlx::Any`, the same
//! statements for both, numbered placeholders).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::{StorageEntry, StorageError, StorageScope, StorageStore, expires_at};
use crate::queue::now_ms;

/// The SQL storage. Built from the queue's pools ([`crate::queue::SqlQueue::storage`]),
/// so that SQLite keeps its single writer.
#[derive(Clone)]
pub struct SqlStorage {
    writer: AnyPool,
    reader: AnyPool,
}

impl SqlStorage {
    /// Uses `writer` for writes and `reader` for reads; the schema must be migrated.
    pub fn new(writer: AnyPool, reader: AnyPool) -> Self {
        Self { writer, reader }
    }
}

/// Writes `value` under `key` on `executor`: the pool, or a queue transaction that
/// commits it together with tasks (a poll's cursor, see
/// [`crate::queue::WriteBatch::storage`]).
pub(crate) async fn put_on<'e, E>(
    executor: E,
    scope: &StorageScope,
    key: &str,
    value: &Value,
    ttl: Option<Duration>,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let now = now_ms();
    sqlx::query(
        "INSERT INTO storage_items (namespace, storage, item_key, value, updated_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (namespace, storage, item_key) DO UPDATE SET \
         value = excluded.value, updated_at = excluded.updated_at, expires_at = excluded.expires_at",
    )
    .bind(scope.namespace.clone())
    .bind(scope.storage.clone())
    .bind(key.to_owned())
    .bind(value.to_string())
    .bind(now)
    .bind(expires_at(now, ttl))
    .execute(executor)
    .await?;
    Ok(())
}

const LIVE: &str = "(expires_at IS NULL OR expires_at > $4)";

fn entry(scope: &StorageScope, row: &AnyRow) -> Result<StorageEntry, StorageError> {
    let read = StorageError::db("read storage entry");
    let key: String = row.try_get("item_key").map_err(read)?;
    let text: String = row
        .try_get("value")
        .map_err(StorageError::db("read storage entry"))?;
    let value = serde_json::from_str(&text).map_err(|source| StorageError::Corrupt {
        storage: scope.storage.clone(),
        key: key.clone(),
        source,
    })?;
    Ok(StorageEntry {
        key,
        value,
        updated_at_ms: row
            .try_get("updated_at")
            .map_err(StorageError::db("read storage entry"))?,
        expires_at_ms: row
            .try_get::<Option<i64>, _>("expires_at")
            .map_err(StorageError::db("read storage entry"))?,
    })
}

#[async_trait]
impl StorageStore for SqlStorage {
    async fn get(
        &self,
        scope: &StorageScope,
        key: &str,
    ) -> Result<Option<StorageEntry>, StorageError> {
        let sql = format!(
            "SELECT item_key, value, updated_at, expires_at FROM storage_items \
             WHERE namespace = $1 AND storage = $2 AND item_key = $3 AND {LIVE}"
        );
        let row = sqlx::query(&sql)
            .bind(scope.namespace.clone())
            .bind(scope.storage.clone())
            .bind(key.to_owned())
            .bind(now_ms())
            .fetch_optional(&self.reader)
            .await
            .map_err(StorageError::db("get storage entry"))?;
        row.map(|row| entry(scope, &row)).transpose()
    }

    async fn put(
        &self,
        scope: &StorageScope,
        key: &str,
        value: &Value,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError> {
        put_on(&self.writer, scope, key, value, ttl)
            .await
            .map_err(StorageError::db("put storage entry"))
    }

    async fn delete(&self, scope: &StorageScope, key: &str) -> Result<bool, StorageError> {
        let sql = format!(
            "DELETE FROM storage_items WHERE namespace = $1 AND storage = $2 AND item_key = $3 AND {LIVE}"
        );
        let deleted = sqlx::query(&sql)
            .bind(scope.namespace.clone())
            .bind(scope.storage.clone())
            .bind(key.to_owned())
            .bind(now_ms())
            .execute(&self.writer)
            .await
            .map_err(StorageError::db("delete storage entry"))?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn list(
        &self,
        scope: &StorageScope,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StorageEntry>, StorageError> {
        let sql = format!(
            "SELECT item_key, value, updated_at, expires_at FROM storage_items \
             WHERE namespace = $1 AND storage = $2 AND item_key > $3 AND {LIVE} \
             ORDER BY item_key LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(scope.namespace.clone())
            .bind(scope.storage.clone())
            .bind(after.unwrap_or("").to_owned())
            .bind(now_ms())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(StorageError::db("list storage entries"))?;
        rows.iter().map(|row| entry(scope, row)).collect()
    }

    async fn purge_expired(&self) -> Result<u64, StorageError> {
        let purged = sqlx::query(
            "DELETE FROM storage_items WHERE expires_at IS NOT NULL AND expires_at <= $1",
        )
        .bind(now_ms())
        .execute(&self.writer)
        .await
        .map_err(StorageError::db("purge expired storage entries"))?
        .rows_affected();
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use crate::queue::SqlQueue;

    #[tokio::test]
    async fn sqlite_storage_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let queue = SqlQueue::connect(
            &SqlQueue::default_url(dir.path()),
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        super::super::contract::check(&queue.storage()).await;
    }
}
