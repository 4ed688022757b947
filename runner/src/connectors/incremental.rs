//! Incremental polling shared by the connectors that support a cursor (database
//! queries, HTTP requests): load the route's cursor, keep only the items it admits, and
//! save the advanced cursor in the transaction that commits those items — never before,
//! never after (see [`crate::storage::cursor`] for the two ways other tools lose rows).
//! The cursor lives in the queue database's storage, so one transaction holds both.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{AfterCommit, Batch, PollContext, SourceError};
use crate::queue::StoragePut;
use crate::storage::{CursorState, CursorUpdate, StorageScope, StorageStore, cursor};

/// Where a route's connector cursor is kept: the route's storage, this key. Visible
/// and editable at `/api/v1/namespaces/{ns}/storages/{route}/items/connector.cursor`.
pub const CURSOR_KEY: &str = "connector.cursor";

/// A cursor value written in a manifest: a number when it parses as one, else text.
pub fn initial_value(text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The route's cursor before a fetch.
pub struct Incremental {
    storage: Arc<dyn StorageStore>,
    scope: StorageScope,
    previous: Option<CursorState>,
}

impl Incremental {
    /// Loads the route's stored cursor, if any.
    pub async fn load(context: &PollContext<'_>) -> Result<Self, SourceError> {
        let scope = StorageScope::new(context.namespace, context.route);
        let previous = CursorState::load(context.storage.as_ref(), &scope, CURSOR_KEY)
            .await
            .map_err(|e| SourceError(format!("cannot load the cursor: {e}")))?;
        Ok(Self {
            storage: context.storage.clone(),
            scope,
            previous,
        })
    }

    /// The value to ask the source for: the stored cursor, or `initial` on the first run.
    pub fn value(&self, initial: Value) -> Value {
        self.previous.as_ref().map_or(initial, |p| p.value.clone())
    }

    /// Keeps the fetched items the cursor admits and makes them a batch whose commit
    /// advances the cursor. `value_of` and `key_of` read an item's cursor value and
    /// identity; an item without a cursor value fails the whole fetch (`field` names
    /// it), since queuing it would either lose it or stall the cursor.
    pub fn select(
        self,
        label: String,
        fetched: Vec<Value>,
        field: &str,
        value_of: impl Fn(&Value) -> Option<&Value>,
        key_of: impl Fn(&Value) -> Option<&Value>,
    ) -> Result<Batch, SourceError> {
        let mut update = CursorUpdate::starting_from(self.previous.clone());
        let mut items = Vec::with_capacity(fetched.len());
        for (index, item) in fetched.into_iter().enumerate() {
            let Some(at) = value_of(&item).filter(|v| !v.is_null()).cloned() else {
                return Err(SourceError(format!(
                    "item {} has no value at the cursor field `{field}`",
                    index + 1
                )));
            };
            let key = key_of(&item).map(|k| match k {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            if self
                .previous
                .as_ref()
                .is_some_and(|p| !p.admits(&at, key.as_deref()))
            {
                continue;
            }
            update.observe(&at, key.as_deref());
            items.push(item);
        }
        let after_commit: Option<Box<dyn AfterCommit>> = match update.finish() {
            Some(state) if !items.is_empty() => Some(Box::new(SaveCursor {
                storage: self.storage,
                scope: self.scope,
                state: Some(state),
            })),
            _ => None,
        };
        Ok(Batch {
            label,
            items,
            error: None,
            after_commit,
        })
    }
}

/// Saves the advanced cursor with the items it covers.
struct SaveCursor {
    storage: Arc<dyn StorageStore>,
    scope: StorageScope,
    /// `None` once handed to the commit ([`AfterCommit::commit_with`]).
    state: Option<CursorState>,
}

#[async_trait]
impl AfterCommit for SaveCursor {
    fn commit_with(&mut self) -> Option<StoragePut> {
        let state = self.state.take()?;
        Some(StoragePut {
            scope: self.scope.clone(),
            key: CURSOR_KEY.to_owned(),
            value: cursor::to_value(&state),
        })
    }

    /// Saves the cursor unless the commit already did (see [`SaveCursor::commit_with`]).
    async fn committed(self: Box<Self>) -> Result<(), SourceError> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        cursor::save(self.storage.as_ref(), &self.scope, CURSOR_KEY, state)
            .await
            .map_err(|e| SourceError(format!("cannot save the cursor: {e}")))
    }

    /// The items' pipeline failed: the cursor stays, so they are read again next time.
    async fn rejected(self: Box<Self>, _reason: &str) -> Result<(), SourceError> {
        Ok(())
    }
}
