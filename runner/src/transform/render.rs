//! The `render` step: a field becomes text (CSV, XML, JSON Lines, EDIFACT, X12).

use serde_json::Value;
use switchyard_crds::path::FieldPath;
use switchyard_crds::v1alpha1::{CsvOptions, Format};

use super::{Transform, TransformError, paths};
use crate::formats;

pub struct Render {
    pub format: Format,
    pub path: FieldPath,
    pub into: FieldPath,
    pub csv: CsvOptions,
    pub root: Option<String>,
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
        let text = match self.format {
            Format::Csv => formats::csv::render(&value, &self.csv),
            Format::Xml => formats::xml::render(&value, self.root.as_deref()),
            Format::JsonLines => formats::jsonl::render(&value),
            Format::Edifact => formats::edifact::render(&value),
            Format::X12 => formats::x12::render(&value),
        }
        .map_err(fail)?;
        paths::set(&mut item, &self.into, Value::String(text))?;
        out.push(item);
        Ok(())
    }
}
