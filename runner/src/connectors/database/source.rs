//! Polling a database: run the query, one item per row.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::v1alpha1::PollQuery;

use super::rows::{bind_json, mysql_row, pg_row, sqlite_row};
use super::{DatabaseError, DatabasePool, NamedSql};
use crate::connectors::{Source, SourceError};
use crate::redact;

pub struct DatabaseSource {
    pool: Arc<DatabasePool>,
    query: NamedSql,
    spec: PollQuery,
}

impl DatabaseSource {
    pub fn new(pool: Arc<DatabasePool>, spec: &PollQuery) -> Self {
        Self {
            query: NamedSql::parse(&spec.sql, pool.placeholder()),
            pool,
            spec: spec.clone(),
        }
    }

    /// The initial cursor as written: a number when it parses as one, else text.
    pub fn initial_cursor(&self) -> Value {
        let initial = self
            .spec
            .cursor
            .as_ref()
            .map(|c| c.initial.as_str())
            .unwrap_or_default();
        initial
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(initial.to_owned()))
    }

    /// Runs the query with `params` (an object whose fields the `:name` references
    /// read, e.g. `{"cursor": …}`).
    pub async fn rows(&self, params: &Value) -> Result<Vec<Value>, DatabaseError> {
        let values = self.query.values(params);
        let sql = self.query.sql.as_str();
        match self.pool.as_ref() {
            DatabasePool::Postgres(pool) => {
                let rows = bind_json!(sqlx::query(sql), values)
                    .fetch_all(pool)
                    .await
                    .map_err(DatabaseError::sql("query"))?;
                rows.iter().map(pg_row).collect()
            }
            DatabasePool::MySql(pool) => {
                let rows = bind_json!(sqlx::query(sql), values)
                    .fetch_all(pool)
                    .await
                    .map_err(DatabaseError::sql("query"))?;
                rows.iter().map(mysql_row).collect()
            }
            DatabasePool::Sqlite(pool) => {
                let rows = bind_json!(sqlx::query(sql), values)
                    .fetch_all(pool)
                    .await
                    .map_err(DatabaseError::sql("query"))?;
                rows.iter().map(sqlite_row).collect()
            }
        }
    }
}

#[async_trait]
impl Source for DatabaseSource {
    async fn fetch(&self) -> Result<Vec<Value>, SourceError> {
        let params = serde_json::json!({ "cursor": self.initial_cursor() });
        self.rows(&params)
            .await
            .map_err(|e| SourceError(redact::redact(&e.to_string()).into_owned()))
    }
}
