//! URL templates: `/orders/{{ .id }}` filled from the item, each value percent-encoded
//! as one path segment (or, for query parameters, as one query value).

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;
use switchyard_crds::template::{self, Segment};

use crate::transform::{JqProgram, TransformError};

/// Characters encoded in a path segment (RFC 3986 `pchar` complement).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'?')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// Characters encoded in a query value: a segment's, plus the query's own separators.
const QUERY_VALUE: &AsciiSet = &SEGMENT.add(b'&').add(b'=').add(b'+').add(b';');

enum Part {
    Literal(String),
    Expression(JqProgram),
}

pub struct UrlTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}")]
    Parse(String),
    #[error("placeholder `{{{{ {expression} }}}}`: {reason}")]
    Render { expression: String, reason: String },
}

impl TemplateError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Parse(_) => "template_parse",
            Self::Render { .. } => "template_render",
        }
    }
}

impl UrlTemplate {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let parts = template::parse(text)
            .map_err(|e| TemplateError::Parse(e.to_string()))?
            .into_iter()
            .map(|segment| match segment {
                Segment::Literal(text) => Ok(Part::Literal(text)),
                Segment::Expression(code) => JqProgram::compile(&code)
                    .map(Part::Expression)
                    .map_err(|e| TemplateError::Parse(e.to_string())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { parts })
    }

    /// The text, when it has no placeholders: the same for every item.
    pub fn literal(&self) -> Option<String> {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => Some(text.as_str()),
                Part::Expression(_) => None,
            })
            .collect()
    }

    /// The text with each placeholder's value encoded as a path segment.
    pub fn render(&self, item: &Value) -> Result<String, TemplateError> {
        self.render_encoded(item, SEGMENT)
    }

    /// The text with each placeholder's value encoded as a query value.
    pub fn render_query_value(&self, item: &Value) -> Result<String, TemplateError> {
        self.render_encoded(item, QUERY_VALUE)
    }

    fn render_encoded(
        &self,
        item: &Value,
        set: &'static AsciiSet,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        for (index, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Expression(program) => {
                    let fail = |reason: String| TemplateError::Render {
                        expression: format!("#{}", index + 1),
                        reason,
                    };
                    let value = program
                        .first(item.clone())
                        .map_err(|e: TransformError| fail(e.to_string()))?;
                    let text = match value {
                        Some(Value::String(s)) => s,
                        Some(Value::Number(n)) => n.to_string(),
                        Some(Value::Bool(b)) => b.to_string(),
                        Some(Value::Null) | None => {
                            return Err(fail("the item has no value there".into()));
                        }
                        Some(_) => {
                            return Err(fail("an object or array cannot be part of a URL".into()));
                        }
                    };
                    out.extend(utf8_percent_encode(&text, set));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fills_and_encodes_placeholders() -> Result<(), TemplateError> {
        let template = UrlTemplate::parse("/orders/{{ .id }}/lines/{{ .sku }}")?;
        assert_eq!(
            template.render(&json!({"id": 7, "sku": "a/b c"}))?,
            "/orders/7/lines/a%2Fb%20c"
        );
        assert!(template.render(&json!({"sku": "x"})).is_err());
        assert_eq!(template.literal(), None);
        assert_eq!(
            UrlTemplate::parse("/orders/all")?.literal().as_deref(),
            Some("/orders/all")
        );
        assert_eq!(UrlTemplate::parse("")?.literal().as_deref(), Some(""));
        let query = UrlTemplate::parse("{{ .q }}")?;
        assert_eq!(
            query.render_query_value(&json!({"q": "a&b=c d+e"}))?,
            "a%26b%3Dc%20d%2Be"
        );
        Ok(())
    }
}
