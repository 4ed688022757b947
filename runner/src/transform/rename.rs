//! The `rename` step: move a field. A missing source field leaves the item unchanged.

use serde_json::Value;
use switchyard_crds::path::FieldPath;

use super::{Transform, TransformError, paths};

pub struct RenameField {
    pub from: FieldPath,
    pub to: FieldPath,
}

impl Transform for RenameField {
    fn kind(&self) -> &'static str {
        "rename"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        if let Some(value) = paths::take(&mut item, &self.from) {
            paths::set(&mut item, &self.to, value)?;
        }
        out.push(item);
        Ok(())
    }
}
