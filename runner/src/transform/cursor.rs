//! The `cursor` step: drop items at or below the stored incremental cursor and advance
//! it once the items are safe. See [`crate::storage::cursor`] for why items sharing the
//! cursor value are never split.

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::path::FieldPath;

use super::{AsyncTransform, Context, DeferredWrite, TransformError, key_text, paths};
use crate::storage::cursor::{CursorState, CursorUpdate};

pub struct Cursor {
    pub storage: String,
    pub key: String,
    pub field: FieldPath,
    pub id: Option<FieldPath>,
}

#[async_trait]
impl AsyncTransform for Cursor {
    fn kind(&self) -> &'static str {
        "cursor"
    }

    async fn apply(
        &self,
        item: Value,
        context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError> {
        let value =
            paths::get(&item, &self.field)
                .cloned()
                .ok_or_else(|| TransformError::Path {
                    path: self.field.to_string(),
                    reason: "no cursor value in this item".into(),
                })?;
        let id = self
            .id
            .as_ref()
            .and_then(|p| paths::get(&item, p))
            .map(key_text);
        let scope = context.scope(&self.storage);
        // Every item of a batch is compared with the stored state; the batch's own
        // advance accumulates in the deferred write.
        let stored = context
            .base(&scope, &self.key)
            .await?
            .map(CursorState::from_stored);
        if stored
            .as_ref()
            .is_some_and(|s| !s.admits(&value, id.as_deref()))
        {
            return Ok(());
        }
        let pending = context
            .pending(&scope, &self.key)
            .map(CursorState::from_stored)
            .or(stored);
        let mut update = CursorUpdate::starting_from(pending);
        update.observe(&value, id.as_deref());
        if let Some(next) = update.finish() {
            context.defer(DeferredWrite {
                scope,
                key: self.key.clone(),
                value: serde_json::to_value(&next).unwrap_or(Value::Null),
                ttl: None,
            });
        }
        out.push(item);
        Ok(())
    }
}
