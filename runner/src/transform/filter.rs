//! The `filter` step: keep the items for which a jq condition is true.
//!
//! The most common condition compares one field with a constant
//! (`.status == "paid"`). Running it through jq converts the whole item into jq's value
//! type and back, a third of a typical pipeline's time; such conditions (and the rest
//! of the jq subset [`JqProgram`] evaluates directly) are evaluated on the JSON item as
//! it is, with jaq's semantics, without copying it; anything else goes to jaq.

use serde_json::Value;

use super::{JqProgram, Transform, TransformError};

pub struct Filter {
    condition: JqProgram,
}

impl Filter {
    /// `code` is the condition's text, `condition` its compiled program (the text is
    /// kept in the signature for the registry; the program decides how it runs).
    pub fn new(_code: &str, condition: JqProgram) -> Self {
        Self { condition }
    }
}

impl Transform for Filter {
    fn kind(&self) -> &'static str {
        "filter"
    }

    fn apply(&self, item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        if self.condition.holds(&item)? {
            out.push(item);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::truthy;
    use super::*;

    /// Conditions are evaluated directly, and agree with jaq on every item (where jaq
    /// fails, the direct evaluation defers to it and the step reports jaq's error).
    #[test]
    fn simple_comparisons_agree_with_jq() {
        let items = [
            json!({"status": "paid", "n": 1, "a": {"b": true}, "tags": ["x"]}),
            json!({"status": "open", "n": 1.0, "a": {"b": null}, "s": "a==b"}),
            json!({"n": 2, "a": "text", "big": 9007199254740993_i64}),
            json!({"status": null, "a": {}, "big": 9007199254740992_i64}),
            json!([1, 2]),
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
            ".a and .b",
            r#".status == "a" or .n == 1"#,
            ".n > 1",
            r#".tags == ["x"]"#,
            r#".s == "a==b""#,
            ".[0] == 1",
            // Integers compare exactly, not as floats.
            ".big == 9007199254740992",
        ];
        for code in conditions {
            let program = JqProgram::compile(code).unwrap_or_else(|e| panic!("{e}"));
            assert!(program.is_direct(), "{code} is evaluated directly");
            for item in &items {
                let by_jq = program
                    .jaq_outputs(item.clone())
                    .map(|outputs| truthy(&outputs.into_iter().next()));
                assert_eq!(program.holds(item), by_jq, "{code} on {item}");
            }
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
