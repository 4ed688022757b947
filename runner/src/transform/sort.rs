//! The `sort` step: order a batch by a field.

use serde_json::Value;
use switchyard_crds::path::FieldPath;

use super::{BatchTransform, TransformError, paths};
use crate::storage::cursor::compare;

pub struct Sort {
    pub by: FieldPath,
    pub descending: bool,
}

impl BatchTransform for Sort {
    fn kind(&self) -> &'static str {
        "sort"
    }

    fn apply_batch(&self, mut items: Vec<Value>) -> Result<Vec<Value>, (usize, TransformError)> {
        // Stable: items with equal keys keep their order.
        items.sort_by(|a, b| {
            let order = match (paths::get(a, &self.by), paths::get(b, &self.by)) {
                (Some(x), Some(y)) => compare(x, y),
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            if self.descending {
                order.reverse()
            } else {
                order
            }
        });
        Ok(items)
    }
}
