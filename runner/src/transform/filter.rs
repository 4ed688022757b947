//! The `filter` step: keep the items for which a jq condition is true.

use serde_json::Value;

use super::{JqProgram, Transform, TransformError, truthy};

pub struct Filter {
    pub condition: JqProgram,
}

impl Transform for Filter {
    fn kind(&self) -> &'static str {
        "filter"
    }

    fn apply(&self, item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        if truthy(&self.condition.first(item.clone())?) {
            out.push(item);
        }
        Ok(())
    }
}
