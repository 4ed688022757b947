//! The `filter` step: keep the items for which a jq condition is true.
//!
//! The most common condition compares one field with a constant
//! (`.status == "paid"`). Running it through jq converts the whole item into jq's value
//! type and back, a third of a typical pipeline's time; such conditions are evaluated
//! on the JSON directly, with jq's semantics, and anything else goes to jq.

use serde_json::Value;

use super::{JqProgram, Transform, TransformError, truthy};

pub struct Filter {
    condition: JqProgram,
    comparison: Option<Comparison>,
}

impl Filter {
    pub fn new(code: &str, condition: JqProgram) -> Self {
        Self {
            comparison: Comparison::parse(code),
            condition,
        }
    }
}

impl Transform for Filter {
    fn kind(&self) -> &'static str {
        "filter"
    }

    fn apply(&self, item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        let keep = match self.comparison.as_ref().and_then(|c| c.holds(&item)) {
            Some(keep) => keep,
            None => truthy(&self.condition.first(item.clone())?),
        };
        if keep {
            out.push(item);
        }
        Ok(())
    }
}

/// `.a.b == <literal>` or `.a.b != <literal>`, with a JSON scalar literal.
#[derive(Debug, PartialEq)]
struct Comparison {
    path: Vec<String>,
    equal: bool,
    literal: Value,
}

impl Comparison {
    fn parse(code: &str) -> Option<Self> {
        let (left, right, equal) = if let Some((l, r)) = code.split_once("==") {
            (l, r, true)
        } else {
            let (l, r) = code.split_once("!=")?;
            (l, r, false)
        };
        if right.contains("==") || right.contains("!=") {
            return None;
        }
        let path: Vec<String> = left
            .trim()
            .strip_prefix('.')?
            .split('.')
            .map(str::to_owned)
            .collect();
        let identifier = |s: &String| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if !path.iter().all(identifier) {
            return None;
        }
        let literal: Value = serde_json::from_str(right.trim()).ok()?;
        if literal.is_array() || literal.is_object() {
            return None;
        }
        Some(Self {
            path,
            equal,
            literal,
        })
    }

    /// The condition's value, or `None` when only jq can tell (indexing something that
    /// is not an object, `null` included, is an error in jaq, which jq should report).
    fn holds(&self, item: &Value) -> Option<bool> {
        let mut current = item;
        for segment in &self.path {
            current = match current {
                Value::Object(fields) => fields.get(segment).unwrap_or(&Value::Null),
                _ => return None,
            };
        }
        // jq compares numbers by value (1 == 1.0).
        let same = match (current, &self.literal) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (a, b) => a == b,
        };
        Some(same == self.equal)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The direct evaluation agrees with jq on every item, or defers to it.
    #[test]
    fn simple_comparisons_agree_with_jq() {
        let items = [
            json!({"status": "paid", "n": 1, "a": {"b": true}}),
            json!({"status": "open", "n": 1.0, "a": {"b": null}}),
            json!({"n": 2, "a": "text"}),
            json!({"status": null, "a": {}}),
            json!(null),
        ];
        let conditions = [
            r#".status == "paid""#,
            r#" .status != "paid" "#,
            ".n == 1",
            ".n != 1.0",
            ".a.b == true",
            ".a.b == null",
            ".missing.deeper == null",
        ];
        for code in conditions {
            let comparison = Comparison::parse(code).unwrap_or_else(|| panic!("{code}"));
            let program = JqProgram::compile(code).unwrap_or_else(|e| panic!("{e}"));
            for item in &items {
                let by_jq = program.first(item.clone()).map(|v| truthy(&v));
                // `None` defers to jq, whatever it answers.
                if let Some(direct) = comparison.holds(item) {
                    assert_eq!(Ok(direct), by_jq, "{code} on {item}");
                }
            }
        }
        for other in [
            ".a and .b",
            r#".status == "a" or .n == 1"#,
            ".n > 1",
            r#".tags == ["x"]"#,
            r#".s == "a==b""#,
            ".[0] == 1",
        ] {
            assert_eq!(Comparison::parse(other), None, "{other} goes to jq");
        }
    }

    #[test]
    fn the_step_keeps_matching_items_and_reports_jq_errors() {
        let code = ".a.b == 1";
        let filter = Filter::new(
            code,
            JqProgram::compile(code).unwrap_or_else(|e| panic!("{e}")),
        );
        let mut out = Vec::new();
        for item in [json!({"a": {"b": 1}}), json!({"a": {"b": 2}})] {
            filter
                .apply(item, &mut out)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(out, vec![json!({"a": {"b": 1}})]);
        assert!(filter.apply(json!({"a": "text"}), &mut out).is_err());
    }
}
