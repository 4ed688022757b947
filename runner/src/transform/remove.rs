//! The `remove` step: drop fields; missing ones are ignored.

use serde_json::Value;
use switchyard_crds::path::FieldPath;

use super::{Transform, TransformError, paths};

pub struct RemoveFields {
    pub paths: Vec<FieldPath>,
}

impl Transform for RemoveFields {
    fn kind(&self) -> &'static str {
        "remove"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        for path in &self.paths {
            paths::take(&mut item, path);
        }
        out.push(item);
        Ok(())
    }
}
