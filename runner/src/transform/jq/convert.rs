//! `serde_json::Value` ↔ `jaq_json::Val`, for the programs jaq runs.

use std::rc::Rc;

use jaq_json::Val;
use serde_json::{Number, Value};

/// `value` as a jaq value, moving its strings. The same value as `jaq_json`'s own
/// `From<Value>` (integers that fit `isize` as `Int`, other numbers as their JSON text),
/// without formatting and parsing every number and with the strings moved, not copied.
pub(super) fn to_val(value: Value) -> Val {
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
pub(super) fn from_val(val: Val) -> Value {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::JqProgram;
    use super::*;

    #[test]
    fn converts_like_jaq_json_does() -> Result<(), Box<dyn std::error::Error>> {
        let input = json!({
            "int": 7, "negative": -3, "big": u64::MAX, "float": 9.95, "whole": 2.0,
            "text": "a\"b", "list": [1, "x", null, true, {"deep": [0.5]}], "empty": {}
        });
        assert_eq!(to_val(input.clone()), Val::from(input.clone()));
        let identity = JqProgram::compile(".")?;
        assert_eq!(identity.jaq_outputs(input.clone())?, vec![input.clone()]);
        // Shared parts (the same value output twice) are copied, not moved.
        let twice = JqProgram::compile(".list, .list")?;
        assert_eq!(
            twice.jaq_outputs(input.clone())?,
            vec![input["list"].clone(); 2]
        );
        let computed = JqProgram::compile("{product: (.int * .whole), half: (.int / 2), n: .big}")?;
        assert_eq!(
            computed.jaq_outputs(input)?,
            vec![json!({"product": 14.0, "half": 3.5, "n": u64::MAX})]
        );
        assert_eq!(from_val(Val::Num(Rc::new("1e400".into()))), Value::Null);
        assert_eq!(from_val(Val::Float(f64::NAN)), Value::Null);
        Ok(())
    }
}
