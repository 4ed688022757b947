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

/// The segments of a value, or why it is not an interchange.
pub(crate) fn segments(value: &Value) -> Result<Vec<Segment<'_>>, String> {
    let list = match value {
        Value::Object(object) => object.get("segments").and_then(Value::as_array),
        Value::Array(list) => Some(list),
        _ => None,
    }
    .ok_or("expected {\"segments\": [...]} or an array of segments")?;
    list.iter()
        .enumerate()
        .map(|(index, segment)| {
            let tag = segment
                .get("tag")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| format!("segment {}: no `tag`", index + 1))?;
            let elements = match segment.get("elements") {
                None | Some(Value::Null) => &[][..],
                Some(Value::Array(elements)) => elements.as_slice(),
                Some(_) => {
                    return Err(format!(
                        "segment {} ({tag}): `elements` is not an array",
                        index + 1
                    ));
                }
            };
            Ok(Segment { tag, elements })
        })
        .collect()
}

impl Syntax {
    /// Writes `segments`, escaping separators inside values with the release
    /// character (or refusing them when the syntax has none).
    pub(crate) fn write(&self, segments: &[Segment<'_>]) -> Result<String, String> {
        let mut out = String::new();
        for (index, segment) in segments.iter().enumerate() {
            let at = |what: String| format!("segment {} ({}): {what}", index + 1, segment.tag);
            out.push_str(segment.tag);
            for (position, element) in segment.elements.iter().enumerate() {
                out.push(self.element);
                match element {
                    Value::Array(components) => {
                        for (n, component) in components.iter().enumerate() {
                            if n > 0 {
                                out.push(self.component);
                            }
                            self.push_value(&mut out, component).map_err(|e| {
                                at(format!("element {} component {}: {e}", position + 1, n + 1))
                            })?;
                        }
                    }
                    other => self
                        .push_value(&mut out, other)
                        .map_err(|e| at(format!("element {}: {e}", position + 1)))?,
                }
            }
            out.push(self.segment);
        }
        Ok(out)
    }

    fn push_value(&self, out: &mut String, value: &Value) -> Result<(), String> {
        let text = match value {
            Value::Null => return Ok(()),
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
                return Err("must be a string, a number or null".into());
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
                    return Err(format!(
                        "`{text}` holds the separator `{c}`, which {} cannot escape",
                        self.name
                    ));
                }
            }
            out.push(c);
        }
        Ok(())
    }
}
