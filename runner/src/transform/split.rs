//! The `split` step: one item per element of an array.

use serde_json::Value;
use switchyard_crds::path::FieldPath;

use super::{Transform, TransformError, paths};

pub struct SplitArray {
    pub path: FieldPath,
}

impl Transform for SplitArray {
    fn kind(&self) -> &'static str {
        "split"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        match paths::take(&mut item, &self.path) {
            Some(Value::Array(elements)) => {
                out.extend(elements);
                Ok(())
            }
            Some(other) => Err(TransformError::Path {
                path: self.path.to_string(),
                reason: format!("expected an array, found {}", kind_of(&other)),
            }),
            None => Err(TransformError::Path {
                path: self.path.to_string(),
                reason: "no such field".into(),
            }),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
