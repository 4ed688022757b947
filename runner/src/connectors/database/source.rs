//! Polling a database: run the query, one item per row.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::v1alpha1::{PollQuery, QueryCursor};

use super::{DatabaseError, DatabasePool, NamedSql};
use crate::connectors::{AfterCommit, Batch, PollContext, Source, SourceError};
use crate::redact;
use crate::storage::{CursorState, CursorUpdate, StorageScope, StorageStore, cursor};

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
        self.rows(&params)
            .await
            .map_err(|e| SourceError(redact::redact(&e.to_string()).into_owned()))
    }

    async fn fetch_batches(&self, context: &PollContext<'_>) -> Result<Vec<Batch>, SourceError> {
        match &self.spec.cursor {
            None => Ok(vec![Batch {
                label: "query".into(),
                items: self.fetch().await?,
                error: None,
                after_commit: None,
            }]),
            Some(cursor) => Ok(vec![
                self.incremental(cursor, context)
                    .await
                    .map_err(SourceError)?,
            ]),
        }
    }
}

/// Saves the advanced cursor once the rows it covers are queued.
struct SaveCursor {
    storage: Arc<dyn StorageStore>,
    scope: StorageScope,
    state: CursorState,
}

#[async_trait]
impl AfterCommit for SaveCursor {
    async fn committed(self: Box<Self>) -> Result<(), SourceError> {
        cursor::save(self.storage.as_ref(), &self.scope, CURSOR_KEY, &self.state)
            .await
            .map_err(|e| SourceError(format!("cannot save the cursor: {e}")))
    }

    /// The rows' pipeline failed: the cursor stays, so they are read again next time.
    async fn rejected(self: Box<Self>, _reason: &str) -> Result<(), SourceError> {
        Ok(())
    }
}

/// Where a route's cursor is kept: the route's storage, this key.
pub const CURSOR_KEY: &str = "connector.cursor";

impl DatabaseSource {
    /// The rows not yet queued, and the step that advances the cursor past them.
    async fn incremental(
        &self,
        cursor: &QueryCursor,
        context: &PollContext<'_>,
    ) -> Result<Batch, String> {
        let scope = StorageScope::new(context.namespace, context.route);
        let previous = CursorState::load(context.storage.as_ref(), &scope, CURSOR_KEY)
            .await
            .map_err(|e| format!("cannot load the cursor: {e}"))?;
        let value = previous
            .as_ref()
            .map_or_else(|| self.initial_cursor(), |p| p.value.clone());
        let rows = self
            .rows(&serde_json::json!({ "cursor": value }))
            .await
            .map_err(|e| redact::redact(&e.to_string()).into_owned())?;
        let mut update = CursorUpdate::starting_from(previous.clone());
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(at) = row.get(&cursor.column).filter(|v| !v.is_null()).cloned() else {
                return Err(format!(
                    "a row has no value in the cursor column `{}`",
                    cursor.column
                ));
            };
            let key = row.get(&cursor.key).map(|k| match k {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            if previous
                .as_ref()
                .is_some_and(|p| !p.admits(&at, key.as_deref()))
            {
                continue;
            }
            update.observe(&at, key.as_deref());
            items.push(row);
        }
        let after_commit: Option<Box<dyn AfterCommit>> = match update.finish() {
            Some(state) if !items.is_empty() => Some(Box::new(SaveCursor {
                storage: context.storage.clone(),
                scope,
                state,
            })),
            _ => None,
        };
        Ok(Batch {
            label: format!("query (cursor {value})"),
            items,
            error: None,
            after_commit,
        })
    }
}
