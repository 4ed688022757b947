//! The `validate` step: JSON Schema (draft 2020-12 unless `$schema` says otherwise). An
//! invalid item fails with every violation listed (at most [`MAX_VIOLATIONS`]), or is
//! dropped, as configured. The schema is written inline or names a canonical entity
//! (`validate: {entity: order}`, see [`crate::entities`]).

use jsonschema::Validator;
use serde_json::Value;
use switchyard_crds::v1alpha1::{OnInvalid, ValidateStep};

use super::{Transform, TransformError};
use crate::entities::{self, Bundled, EntityError};

/// Violations listed in an error; more are counted.
const MAX_VIOLATIONS: usize = 20;

pub struct Validate {
    pub validator: Validator,
    pub on_invalid: OnInvalid,
}

/// A schema that does not compile.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(transparent)]
    Entity(#[from] EntityError),
    #[error("invalid JSON Schema: {message}")]
    Invalid { message: String },
    #[error("set `schema` (a JSON Schema) or `entity` (a canonical entity's name)")]
    Missing,
}

impl SchemaError {
    /// A static label for metrics and reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Entity(error) => error.category(),
            Self::Invalid { .. } => "schema_invalid",
            Self::Missing => "schema_missing",
        }
    }
}

impl Validate {
    /// Compiles the step's schema (inline, or the named entity's); `$ref`s resolve to the
    /// bundled entities only.
    pub fn build(step: &ValidateStep) -> Result<Self, SchemaError> {
        let schema = match (step.entity, &step.schema) {
            (Some(entity), _) => entities::schema(entity)?,
            (None, Some(schema)) => schema,
            (None, None) => return Err(SchemaError::Missing),
        };
        let options = jsonschema::options().with_retriever(Bundled);
        let options = if schema.get("$schema").is_some() {
            options
        } else {
            options.with_draft(jsonschema::Draft::Draft202012)
        };
        let validator = options.build(schema).map_err(|e| SchemaError::Invalid {
            message: e.to_string(),
        })?;
        Ok(Self {
            validator,
            on_invalid: step.on_invalid,
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
