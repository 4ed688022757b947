//! The `valueMap` step: translate a field through a table (inline, and optionally from
//! storage), with a default for unknown values.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::path::FieldPath;

use super::{AsyncTransform, Context, Transform, TransformError, key_text, paths};

pub struct ValueMap {
    pub path: FieldPath,
    pub into: FieldPath,
    pub table: BTreeMap<String, Value>,
    pub default: Option<Value>,
}

impl ValueMap {
    /// The translation from the inline table: `Ok(None)` leaves the item alone.
    fn inline(&self, item: &Value) -> Option<(String, Option<Value>)> {
        let value = paths::get(item, &self.path)?;
        let key = key_text(value);
        let found = self.table.get(&key).cloned();
        Some((key, found))
    }

    fn write(&self, item: &mut Value, value: Option<Value>) -> Result<(), TransformError> {
        match value.or_else(|| self.default.clone()) {
            Some(value) => paths::set(item, &self.into, value),
            None => Ok(()),
        }
    }
}

impl Transform for ValueMap {
    fn kind(&self) -> &'static str {
        "valueMap"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        if let Some((_, found)) = self.inline(&item) {
            if found.is_some() || self.default.is_some() {
                self.write(&mut item, found)?;
            } else if self.into != self.path {
                let same = paths::get(&item, &self.path).cloned();
                self.write(&mut item, same)?;
            }
        }
        out.push(item);
        Ok(())
    }
}

/// A value map whose table continues in a storage.
pub struct StoredValueMap {
    pub inline: ValueMap,
    pub storage: String,
}

#[async_trait]
impl AsyncTransform for StoredValueMap {
    fn kind(&self) -> &'static str {
        "valueMap"
    }

    async fn apply(
        &self,
        mut item: Value,
        context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError> {
        if let Some((key, found)) = self.inline.inline(&item) {
            let found = match found {
                Some(found) => Some(found),
                None => context
                    .storage
                    .get(&context.scope(&self.storage), &key)
                    .await?
                    .map(|entry| entry.value),
            };
            if found.is_some() || self.inline.default.is_some() {
                self.inline.write(&mut item, found)?;
            }
        }
        out.push(item);
        Ok(())
    }
}
