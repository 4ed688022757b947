//! The `jq` step, and compiled jq programs used elsewhere (delivery bodies, templates).

use jaq_core::{Ctx, RcIter};
use jaq_json::Val;
use serde_json::Value;
use switchyard_crds::jq::{JqCompileError, JqFilter, compile};

use super::{Transform, TransformError};

/// A compiled jq program.
pub struct JqProgram {
    filter: JqFilter,
}

impl JqProgram {
    pub fn compile(code: &str) -> Result<Self, JqCompileError> {
        Ok(Self {
            filter: compile(code)?,
        })
    }

    /// Every output of the program on `input`.
    pub fn outputs(&self, input: Value) -> Result<Vec<Value>, TransformError> {
        let inputs = RcIter::new(core::iter::empty());
        self.filter
            .run((Ctx::new([], &inputs), Val::from(input)))
            .map(|result| {
                result
                    .map(Value::from)
                    .map_err(|error| TransformError::Jq(error.to_string()))
            })
            .collect()
    }

    /// The first output, or `None` when the program outputs nothing.
    pub fn first(&self, input: Value) -> Result<Option<Value>, TransformError> {
        let inputs = RcIter::new(core::iter::empty());
        self.filter
            .run((Ctx::new([], &inputs), Val::from(input)))
            .next()
            .transpose()
            .map(|value| value.map(Value::from))
            .map_err(|error| TransformError::Jq(error.to_string()))
    }
}

impl Transform for JqProgram {
    fn kind(&self) -> &'static str {
        "jq"
    }

    fn apply(&self, item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        out.extend(self.outputs(item)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn maps_filters_and_reports_runtime_errors() -> Result<(), Box<dyn std::error::Error>> {
        let map = JqProgram::compile("{id, total: (.price * .qty)}")?;
        assert_eq!(
            map.outputs(json!({"id": 1, "price": 2.5, "qty": 2}))?,
            vec![json!({"id": 1, "total": 5.0})]
        );
        let filter = JqProgram::compile("select(.ok)")?;
        assert_eq!(filter.outputs(json!({"ok": false}))?, Vec::<Value>::new());
        let failing = JqProgram::compile(".a + 1")?;
        assert!(matches!(
            failing.outputs(json!({"a": "x"})),
            Err(TransformError::Jq(_))
        ));
        Ok(())
    }
}
