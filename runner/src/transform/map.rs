//! The `map` step: build the item from field mappings, for people who do not write jq.

use serde_json::{Map, Value};
use switchyard_crds::path::FieldPath;

use super::{JqProgram, Transform, TransformError, paths};

pub enum Source {
    Path(FieldPath),
    Jq(JqProgram),
    None,
}

pub struct Mapping {
    pub to: FieldPath,
    pub source: Source,
    pub default: Option<Value>,
}

pub struct MapFields {
    pub fields: Vec<Mapping>,
    pub keep: bool,
}

impl Transform for MapFields {
    fn kind(&self) -> &'static str {
        "map"
    }

    fn apply(&self, item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        let mut output = if self.keep {
            item.clone()
        } else {
            Value::Object(Map::with_capacity(self.fields.len()))
        };
        for mapping in &self.fields {
            let value = match &mapping.source {
                Source::Path(path) => paths::get(&item, path).cloned(),
                Source::Jq(program) => program.first(item.clone())?,
                Source::None => None,
            };
            let value = match value {
                Some(Value::Null) | None => mapping.default.clone(),
                some => some,
            };
            if let Some(value) = value {
                paths::set(&mut output, &mapping.to, value)?;
            }
        }
        out.push(output);
        Ok(())
    }
}
