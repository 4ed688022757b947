//! Writing segment-based interchanges (EDIFACT, X12) from the JSON the parsers produce:
//! `{"segments": [{"tag": "UNH", "elements": ["1", ["ORDERS", "D"]]}]}` (or the bare
//! array of segments). An element is a string (or number), or an array of components.

use serde_json::Value;

/// The separators of one interchange syntax.
pub(crate) struct Syntax {
    pub name: &'static str,
    pub component: char,
    pub element: char,
    pub segment: char,
    /// Escapes a separator inside a value. X12 has none: such a value cannot be written.
    pub release: Option<char>,
}

/// One segment, read from JSON.
pub(crate) struct Segment<'a> {
    pub tag: &'a str,
    pub elements: &'a [Value],
}

/// Why a value cannot be written as segments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentsError {
    /// The value is neither `{segments: [...]}` nor an array of segments.
    #[error("expected {{\"segments\": [...]}} or an array of segments")]
    NotSegments,
    /// A segment (1-based `position`) without a `tag`.
    #[error("segment {position}: no `tag`")]
    NoTag { position: usize },
    /// A segment whose `elements` is not an array.
    #[error("segment {position} ({tag}): `elements` is not an array")]
    ElementsNotArray { position: usize, tag: String },
    /// An element (or component; 1-based) that cannot be written.
    #[error("segment {position} ({tag}): element {element}{}: {problem}", component.map(|c| format!(" component {c}")).unwrap_or_default())]
    Value {
        position: usize,
        tag: String,
        element: usize,
        component: Option<usize>,
        problem: ValueProblem,
    },
    /// X12: the ISA header is not at its fixed width.
    #[error(
        "the ISA segment is {length} characters, not {expected}: pad its elements to their fixed widths"
    )]
    IsaWidth { length: usize, expected: usize },
}

impl SegmentsError {
    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::NotSegments | Self::NoTag { .. } | Self::ElementsNotArray { .. } => "shape",
            Self::Value { .. } => "value",
            Self::IsaWidth { .. } => "isa_width",
        }
    }
}

/// Why one value cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueProblem {
    /// A boolean, array or object where a value belongs.
    #[error("must be a string, a number or null")]
    NotScalar,
    /// A separator inside a value of a syntax without a release character (X12).
    #[error("`{text}` holds the separator `{separator}`, which {syntax} cannot escape")]
    Unescapable {
        text: String,
        separator: char,
        syntax: &'static str,
    },
}

/// The segments of a value, or why it is not an interchange.
pub(crate) fn segments(value: &Value) -> Result<Vec<Segment<'_>>, SegmentsError> {
    let list = match value {
        Value::Object(object) => object.get("segments").and_then(Value::as_array),
        Value::Array(list) => Some(list),
        _ => None,
    }
    .ok_or(SegmentsError::NotSegments)?;
    list.iter()
        .enumerate()
        .map(|(index, segment)| {
            let position = index + 1;
            let tag = segment
                .get("tag")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or(SegmentsError::NoTag { position })?;
            let elements = match segment.get("elements") {
                None | Some(Value::Null) => &[][..],
                Some(Value::Array(elements)) => elements.as_slice(),
                Some(_) => {
                    return Err(SegmentsError::ElementsNotArray {
                        position,
                        tag: tag.to_owned(),
                    });
                }
            };
            Ok(Segment { tag, elements })
        })
        .collect()
}

impl Syntax {
    /// Writes `segments`, escaping separators inside values with the release
    /// character (or refusing them when the syntax has none).
    pub(crate) fn write(&self, segments: &[Segment<'_>]) -> Result<String, SegmentsError> {
        let mut out = String::new();
        for (index, segment) in segments.iter().enumerate() {
            let at = |element: usize, component: Option<usize>| {
                move |problem| SegmentsError::Value {
                    position: index + 1,
                    tag: segment.tag.to_owned(),
                    element,
                    component,
                    problem,
                }
            };
            out.push_str(segment.tag);
            for (position, element) in segment.elements.iter().enumerate() {
                out.push(self.element);
                match element {
                    Value::Array(components) => {
                        for (n, component) in components.iter().enumerate() {
                            if n > 0 {
                                out.push(self.component);
                            }
                            self.push_value(&mut out, component)
                                .map_err(at(position + 1, Some(n + 1)))?;
                        }
                    }
                    other => self
                        .push_value(&mut out, other)
                        .map_err(at(position + 1, None))?,
                }
            }
            out.push(self.segment);
        }
        Ok(out)
    }

    fn push_value(&self, out: &mut String, value: &Value) -> Result<(), ValueProblem> {
        let text = match value {
            Value::Null => return Ok(()),
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
                return Err(ValueProblem::NotScalar);
            }
        };
        for c in text.chars() {
            let special = c == self.component
                || c == self.element
                || c == self.segment
                || Some(c) == self.release;
            match (special, self.release) {
                (false, _) => {}
                (true, Some(release)) => out.push(release),
                (true, None) => {
                    return Err(ValueProblem::Unescapable {
                        text: text.clone(),
                        separator: c,
                        syntax: self.name,
                    });
                }
            }
            out.push(c);
        }
        Ok(())
    }
}
