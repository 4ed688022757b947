//! The `copy` step: copy a field to another path.

use serde_json::Value;
use switchyard_crds::path::FieldPath;

use super::{Transform, TransformError, paths};

pub struct CopyField {
    pub from: FieldPath,
    pub to: FieldPath,
}

impl Transform for CopyField {
    fn kind(&self) -> &'static str {
        "copy"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        if let Some(value) = paths::get(&item, &self.from).cloned() {
            paths::set(&mut item, &self.to, value)?;
        }
        out.push(item);
        Ok(())
    }
}
