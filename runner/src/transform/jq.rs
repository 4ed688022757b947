//! The `jq` step, and compiled jq programs used elsewhere (delivery bodies, templates).

use std::rc::Rc;

use jaq_core::{Ctx, RcIter};
use jaq_json::Val;
use serde_json::{Number, Value};
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
            .run((Ctx::new([], &inputs), to_val(input)))
            .map(|result| {
                result
                    .map(from_val)
                    .map_err(|error| TransformError::Jq(error.to_string()))
            })
            .collect()
    }

    /// The first output, or `None` when the program outputs nothing.
    pub fn first(&self, input: Value) -> Result<Option<Value>, TransformError> {
        let inputs = RcIter::new(core::iter::empty());
        self.filter
            .run((Ctx::new([], &inputs), to_val(input)))
            .next()
            .transpose()
            .map(|value| value.map(from_val))
            .map_err(|error| TransformError::Jq(error.to_string()))
    }
}

/// `value` as a jaq value, moving its strings. The same value as `jaq_json`'s own
/// `From<Value>` (integers that fit `isize` as `Int`, other numbers as their JSON text),
/// without formatting and parsing every number and with the strings moved, not copied.
fn to_val(value: Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(b),
        Value::Number(n) => match n.as_i64().and_then(|i| isize::try_from(i).ok()) {
            Some(i) => Val::Int(i),
            None => Val::Num(Rc::new(n.to_string())),
        },
        Value::String(s) => Val::Str(Rc::new(s)),
        Value::Array(items) => Val::Arr(Rc::new(items.into_iter().map(to_val).collect())),
        Value::Object(fields) => Val::obj(
            fields
                .into_iter()
                .map(|(key, value)| (Rc::new(key), to_val(value)))
                .collect(),
        ),
    }
}

/// A jaq output as JSON. Parts nothing else holds are moved, shared ones copied
/// (`jaq_json`'s `From<Val>` copies every string and subtree). A number jaq carries as
/// text that JSON cannot hold (out of range) becomes `null`, as a non-finite float does.
fn from_val(val: Val) -> Value {
    match val {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(b),
        Val::Int(i) => Value::Number(Number::from(i)),
        Val::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Val::Num(text) => text.parse::<Number>().map_or(Value::Null, Value::Number),
        Val::Str(s) => Value::String(unshared(s)),
        Val::Arr(items) => Value::Array(match Rc::try_unwrap(items) {
            Ok(items) => items.into_iter().map(from_val).collect(),
            Err(shared) => shared.iter().cloned().map(from_val).collect(),
        }),
        Val::Obj(fields) => Value::Object(match Rc::try_unwrap(fields) {
            Ok(fields) => fields
                .into_iter()
                .map(|(key, value)| (unshared(key), from_val(value)))
                .collect(),
            Err(shared) => shared
                .iter()
                .map(|(key, value)| ((**key).clone(), from_val(value.clone())))
                .collect(),
        }),
    }
}

/// The string, moved out of its `Rc` when nothing else holds it.
fn unshared(s: Rc<String>) -> String {
    Rc::try_unwrap(s).unwrap_or_else(|shared| (*shared).clone())
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

    #[test]
    fn converts_like_jaq_json_does() -> Result<(), Box<dyn std::error::Error>> {
        let input = json!({
            "int": 7, "negative": -3, "big": u64::MAX, "float": 9.95, "whole": 2.0,
            "text": "a\"b", "list": [1, "x", null, true, {"deep": [0.5]}], "empty": {}
        });
        assert_eq!(to_val(input.clone()), Val::from(input.clone()));
        let identity = JqProgram::compile(".")?;
        assert_eq!(identity.outputs(input.clone())?, vec![input.clone()]);
        // Shared parts (the same value output twice) are copied, not moved.
        let twice = JqProgram::compile(".list, .list")?;
        assert_eq!(
            twice.outputs(input.clone())?,
            vec![input["list"].clone(); 2]
        );
        let computed = JqProgram::compile("{product: (.int * .whole), half: (.int / 2), n: .big}")?;
        assert_eq!(
            computed.outputs(input)?,
            vec![json!({"product": 14.0, "half": 3.5, "n": u64::MAX})]
        );
        assert_eq!(from_val(Val::Num(Rc::new("1e400".into()))), Value::Null);
        assert_eq!(from_val(Val::Float(f64::NAN)), Value::Null);
        Ok(())
    }
}
