//! The `dedupe` step: drop items of a batch that repeat an earlier item's key.

use std::collections::HashSet;

use serde_json::Value;
use switchyard_crds::path::FieldPath;

use super::{BatchTransform, TransformError, paths};

pub struct Dedupe {
    /// Empty: the whole item is the key.
    pub by: Vec<FieldPath>,
}

impl BatchTransform for Dedupe {
    fn kind(&self) -> &'static str {
        "dedupe"
    }

    fn apply_batch(&self, items: Vec<Value>) -> Result<Vec<Value>, (usize, TransformError)> {
        let mut seen = HashSet::with_capacity(items.len());
        Ok(items
            .into_iter()
            .filter(|item| {
                let key = if self.by.is_empty() {
                    item.to_string()
                } else {
                    let parts: Vec<Value> = self
                        .by
                        .iter()
                        .map(|p| paths::get(item, p).cloned().unwrap_or(Value::Null))
                        .collect();
                    Value::Array(parts).to_string()
                };
                seen.insert(key)
            })
            .collect())
    }
}
