//! The `parse` step: a text field (CSV, XML, JSON Lines, EDIFACT, X12) becomes JSON.

use base64::Engine as _;
use serde_json::Value;
use switchyard_crds::path::FieldPath;
use switchyard_crds::v1alpha1::{DictionaryCheck, Format, TextEncoding};

use super::{Transform, TransformError, paths};
use crate::formats;

pub struct Parse {
    pub format: Format,
    pub path: FieldPath,
    pub into: FieldPath,
    pub base64_encoding: Option<TextEncoding>,
    /// CSV and XML options.
    pub options: formats::Options,
    /// EDIFACT, X12: check the envelopes and give the interchange, not the segments.
    pub interchange: bool,
    /// With `interchange`: check the messages against the bundled dictionary.
    pub dictionary: Option<DictionaryCheck>,
}

impl Parse {
    fn text(&self, value: Value) -> Result<String, TransformError> {
        let fail = |reason: String| TransformError::Path {
            path: self.path.to_string(),
            reason,
        };
        let Value::String(text) = value else {
            return Err(fail(format!("expected text, found {value}")));
        };
        let Some(encoding) = self.base64_encoding else {
            return Ok(text);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| fail(format!("not base64: {e}")))?;
        match encoding {
            TextEncoding::Utf8 => {
                String::from_utf8(bytes).map_err(|e| fail(format!("not UTF-8: {e}")))
            }
            TextEncoding::Latin1 => Ok(bytes.into_iter().map(char::from).collect()),
        }
    }
}

impl Transform for Parse {
    fn kind(&self) -> &'static str {
        "parse"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        let value = paths::take(&mut item, &self.path).ok_or_else(|| TransformError::Path {
            path: self.path.to_string(),
            reason: "no such field".into(),
        })?;
        let text = self.text(value)?;
        let parsed = formats::Format::from(self.format).decode_str(&text, &self.options)?;
        let parsed = if self.interchange {
            super::interchange::checked(self.format, &parsed, self.dictionary)?
        } else {
            parsed
        };
        paths::set(&mut item, &self.into, parsed)?;
        out.push(item);
        Ok(())
    }
}
