//! Polling a database: run the query, one item per row.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::v1alpha1::{PollQuery, QueryCursor};

use super::{DatabaseError, DatabasePool, NamedSql};
use crate::connectors::incremental::{Incremental, initial_value};
use crate::connectors::{Batch, PollContext, Source, SourceError};
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
        initial_value(
            self.spec
                .cursor
                .as_ref()
                .map(|c| c.initial.as_str())
                .unwrap_or_default(),
        )
    }

    /// Runs the query with `params` (an object whose fields the `:name` references
    /// read, e.g. `{"cursor": …}`).
    pub async fn rows(&self, params: &Value) -> Result<Vec<Value>, DatabaseError> {
        self.pool
            .query_rows(&self.query.sql, self.query.values(params), false)
            .await
    }
}

#[async_trait]
impl Source for DatabaseSource {
    /// Every row of the query, with `:cursor` at its initial value.
    async fn fetch(&self) -> Result<Vec<Value>, SourceError> {
        let params = serde_json::json!({ "cursor": self.initial_cursor() });
        self.rows(&params).await.map_err(|e| {
            SourceError(redact::excerpt(
                &e.to_string(),
                redact::SERVER_MESSAGE_CHARS,
            ))
        })
    }

    async fn fetch_batches(&self, context: &PollContext<'_>) -> Result<Vec<Batch>, SourceError> {
        match &self.spec.cursor {
            None => Ok(vec![Batch {
                label: "query".into(),
                items: self.fetch().await?,
                error: None,
                after_commit: None,
            }]),
            Some(cursor) => Ok(vec![self.incremental(cursor, context).await?]),
        }
    }
}

impl DatabaseSource {
    /// The rows not yet queued, and the step that advances the cursor past them.
    async fn incremental(
        &self,
        cursor: &QueryCursor,
        context: &PollContext<'_>,
    ) -> Result<Batch, SourceError> {
        let incremental = Incremental::load(context).await?;
        let value = incremental.value(self.initial_cursor());
        let rows = self
            .rows(&serde_json::json!({ "cursor": value }))
            .await
            .map_err(|e| {
                SourceError(redact::excerpt(
                    &e.to_string(),
                    redact::SERVER_MESSAGE_CHARS,
                ))
            })?;
        incremental.select(
            format!("query (cursor {value})"),
            rows,
            &cursor.column,
            |row| row.get(&cursor.column),
            |row| row.get(&cursor.key),
        )
    }
}
