//! The `set` step: a constant value at a path.

use serde_json::Value;
use switchyard_crds::path::FieldPath;

use super::{Transform, TransformError, paths};

pub struct SetField {
    pub path: FieldPath,
    pub value: Value,
}

impl Transform for SetField {
    fn kind(&self) -> &'static str {
        "set"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        paths::set(&mut item, &self.path, self.value.clone())?;
        out.push(item);
        Ok(())
    }
}
