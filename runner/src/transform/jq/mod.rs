//! The `jq` step, and compiled jq programs used elsewhere (delivery bodies, templates).
//!
//! Most programs in maps and conditions are path reads, object and array construction,
//! arithmetic and comparisons. Running those through jaq converts the whole item into
//! jaq's value type and back and interprets the program on it, the second cost of the
//! end-to-end path after the queue. Such programs (the subset in [`plan`]) are
//! evaluated directly on the item's JSON with jaq's semantics ([`eval`], [`value`]);
//! whatever that evaluation cannot answer with certainty — an error, an overflow, a
//! case outside the subset — runs on jaq, on the same item, so results and errors are
//! jaq's either way.

mod convert;
mod eval;
mod plan;
mod value;

#[cfg(test)]
mod direct_tests;

use jaq_core::{Ctx, RcIter};
use serde_json::Value;
use switchyard_crds::jq::{JqCompileError, JqFilter, compile};

use self::convert::{from_val, to_val};
use self::plan::Expr;
use super::{Transform, TransformError, truthy};

/// A compiled jq program.
pub struct JqProgram {
    filter: JqFilter,
    /// The program in the directly evaluated subset, if it is.
    direct: Option<Expr>,
}

impl JqProgram {
    pub fn compile(code: &str) -> Result<Self, JqCompileError> {
        let filter = compile(code)?;
        let direct = plan::plan(code);
        tracing::debug!(
            program = code,
            direct = direct.is_some(),
            "jq program compiled (direct: evaluated on the JSON item, jaq otherwise)"
        );
        Ok(Self { filter, direct })
    }

    /// Every output of the program on `input`.
    pub fn outputs(&self, input: Value) -> Result<Vec<Value>, TransformError> {
        if let Some(outputs) = self.direct.as_ref().and_then(|d| d.outputs(&input)) {
            return Ok(outputs);
        }
        self.jaq_outputs(input)
    }

    /// The first output, or `None` when the program outputs nothing.
    pub fn first(&self, input: Value) -> Result<Option<Value>, TransformError> {
        if let Some(outputs) = self.direct.as_ref().and_then(|d| d.outputs(&input)) {
            return Ok(outputs.into_iter().next());
        }
        let inputs = RcIter::new(core::iter::empty());
        self.filter
            .run((Ctx::new([], &inputs), to_val(input)))
            .next()
            .transpose()
            .map(|value| value.map(from_val))
            .map_err(|error| TransformError::Jq(error.to_string()))
    }

    /// Whether the first output is true (neither `null` nor `false`; no output is
    /// false), without copying `input` when the program is evaluated directly.
    pub(crate) fn holds(&self, input: &Value) -> Result<bool, TransformError> {
        match self.direct.as_ref().and_then(|d| d.holds(input)) {
            Some(holds) => Ok(holds),
            None => Ok(truthy(&self.first(input.clone())?)),
        }
    }

    /// Whether the program is in the directly evaluated subset.
    #[cfg(test)]
    pub(crate) fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Every output, computed by jaq.
    pub(super) fn jaq_outputs(&self, input: Value) -> Result<Vec<Value>, TransformError> {
        let inputs = RcIter::new(core::iter::empty());
        self.filter
            .run((Ctx::new([], &inputs), to_val(input)))
            .map(|result| {
                result
                    .map(from_val)
                    .map_err(|error| TransformError::Jq(error.to_string()))
            })
            .collect()
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
