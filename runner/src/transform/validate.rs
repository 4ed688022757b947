//! The `validate` step: JSON Schema (draft 2020-12 unless `$schema` says otherwise). An
//! invalid item fails with every violation listed (at most [`MAX_VIOLATIONS`]), or is
//! dropped, as configured.

use jsonschema::Validator;
use serde_json::Value;
use switchyard_crds::v1alpha1::OnInvalid;

use super::{Transform, TransformError};

/// Violations listed in an error; more are counted.
const MAX_VIOLATIONS: usize = 20;

pub struct Validate {
    pub validator: Validator,
    pub on_invalid: OnInvalid,
}

impl Validate {
    /// Compiles `schema`; the error says what is wrong with it.
    pub fn build(schema: &Value, on_invalid: OnInvalid) -> Result<Self, String> {
        let draft = if schema.get("$schema").is_some() {
            jsonschema::options()
        } else {
            jsonschema::options().with_draft(jsonschema::Draft::Draft202012)
        };
        let validator = draft
            .build(schema)
            .map_err(|e| format!("invalid JSON Schema: {e}"))?;
        Ok(Self {
            validator,
            on_invalid,
        })
    }
}

impl Transform for Validate {
    fn kind(&self) -> &'static str {
        "validate"
    }

    fn apply(&self, item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        if self.validator.is_valid(&item) {
            out.push(item);
            return Ok(());
        }
        if self.on_invalid == OnInvalid::Drop {
            return Ok(());
        }
        let mut violations = Vec::new();
        let mut more = 0;
        for error in self.validator.iter_errors(&item) {
            if violations.len() < MAX_VIOLATIONS {
                let at = error.instance_path().to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                violations.push(format!("{at}: {}", error.masked()));
            } else {
                more += 1;
            }
        }
        if more > 0 {
            violations.push(format!("and {more} more"));
        }
        Err(TransformError::Invalid { violations })
    }
}
