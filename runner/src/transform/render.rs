//! The `render` step: a field becomes text (CSV, XML, JSON Lines, EDIFACT, X12).

use serde_json::Value;
use switchyard_crds::path::FieldPath;
use switchyard_crds::v1alpha1::Format;

use super::{Transform, TransformError, paths};
use crate::formats;

pub struct Render {
    pub format: Format,
    pub path: FieldPath,
    pub into: FieldPath,
    /// CSV options and the XML root element.
    pub options: formats::Options,
}

impl Transform for Render {
    fn kind(&self) -> &'static str {
        "render"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        let fail = |reason: String| TransformError::Path {
            path: self.path.to_string(),
            reason,
        };
        let value =
            paths::take(&mut item, &self.path).ok_or_else(|| fail("no such field".into()))?;
        let text = formats::Format::from(self.format)
            .encode_string(&value, &self.options)
            .map_err(|e| fail(e.to_string()))?;
        paths::set(&mut item, &self.into, Value::String(text))?;
        out.push(item);
        Ok(())
    }
}
