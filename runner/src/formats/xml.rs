//! XML ↔ JSON. Attributes become `@name`, text beside attributes or children `#text`,
//! repeated elements arrays, an empty element `null`; prefixed names (`ns:tag`) and
//! `xmlns` declarations (`@xmlns:ns`) are kept as written, so namespaces survive a round
//! trip.

use quick_xml::Reader;
use quick_xml::escape::{escape, unescape};
use quick_xml::events::Event;
use serde_json::{Map, Value};

use super::error_at;
use crate::transform::TransformError;

struct Frame {
    name: String,
    fields: Map<String, Value>,
    text: String,
}

fn insert(fields: &mut Map<String, Value>, name: String, value: Value) {
    match fields.get_mut(&name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            fields.insert(name, value);
        }
    }
}

fn finish(frame: Frame, empty: bool) -> Value {
    let text = frame.text.trim();
    if frame.fields.is_empty() {
        if empty && text.is_empty() {
            return Value::Null;
        }
        return Value::String(text.to_owned());
    }
    let mut fields = frame.fields;
    if !text.is_empty() {
        fields.insert("#text".into(), Value::String(text.to_owned()));
    }
    Value::Object(fields)
}

pub fn parse(text: &str) -> Result<Value, TransformError> {
    let mut reader = Reader::from_str(text);
    let fail = |offset: u64, message: String| error_at("XML", text, offset as usize, message);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = Map::new();
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| fail(reader.error_position(), e.to_string()))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let self_closing = matches!(event, Event::Empty(_));
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                let mut fields = Map::new();
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| fail(position, e.to_string()))?;
                    let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
                    let value = attribute
                        .unescape_value()
                        .map_err(|e| fail(position, e.to_string()))?;
                    fields.insert(format!("@{key}"), Value::String(value.into_owned()));
                }
                stack.push(Frame {
                    name,
                    fields,
                    text: String::new(),
                });
                if self_closing {
                    close(&mut stack, &mut root, true);
                }
            }
            Event::End(_) => close(&mut stack, &mut root, false),
            Event::Text(content) => {
                if let Some(frame) = stack.last_mut() {
                    let raw = content
                        .decode()
                        .map_err(|e| fail(position, e.to_string()))?;
                    frame.text.push_str(&raw);
                }
            }
            Event::CData(content) => {
                if let Some(frame) = stack.last_mut() {
                    frame.text.push_str(&String::from_utf8_lossy(&content));
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(frame) = stack.last_mut() {
                    let name = reference
                        .decode()
                        .map_err(|e| fail(position, e.to_string()))?;
                    let entity = format!("&{name};");
                    let resolved = unescape(&entity).map_err(|e| fail(position, e.to_string()))?;
                    frame.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        let names: Vec<&str> = stack.iter().map(|f| f.name.as_str()).collect();
        return Err(error_at(
            "XML",
            text,
            text.len(),
            format!("unclosed element(s): {}", names.join(" > ")),
        ));
    }
    if root.is_empty() {
        return Err(error_at("XML", text, 0, "no root element"));
    }
    Ok(Value::Object(root))
}

fn close(stack: &mut Vec<Frame>, root: &mut Map<String, Value>, empty: bool) {
    let Some(frame) = stack.pop() else {
        return;
    };
    let name = frame.name.clone();
    let value = finish(frame, empty);
    match stack.last_mut() {
        Some(parent) => insert(&mut parent.fields, name, value),
        None => insert(root, name, value),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                element(out, name, item);
            }
        }
        Value::Object(fields) => {
            out.push('<');
            out.push_str(name);
            for (key, value) in fields {
                if let Some(attribute) = key.strip_prefix('@') {
                    out.push_str(&format!(" {attribute}=\"{}\"", escape(scalar(value))));
                }
            }
            let children: Vec<_> = fields.iter().filter(|(k, _)| !k.starts_with('@')).collect();
            if children.is_empty() {
                out.push_str("/>");
                return;
            }
            out.push('>');
            for (key, value) in children {
                if key == "#text" {
                    out.push_str(&escape(scalar(value)));
                } else {
                    element(out, key, value);
                }
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        other => out.push_str(&format!("<{name}>{}</{name}>", escape(scalar(other)))),
    }
}

/// Renders `value` as XML. Without `root`, `value` must be an object with one key: the
/// root element.
pub fn render(value: &Value, root: Option<&str>) -> Result<String, String> {
    let mut out = String::new();
    match (root, value) {
        (Some(root), value) => element(&mut out, root, value),
        (None, Value::Object(fields)) if fields.len() == 1 => {
            for (name, value) in fields {
                element(&mut out, name, value);
            }
        }
        _ => return Err("XML needs an object with one root key, or `root`".into()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_attributes_arrays_namespaces_and_entities() {
        let xml = r#"<o:order xmlns:o="urn:x" id="7"><line sku="a">1</line><line sku="b">2</line><note>A &amp; B</note><gift/></o:order>"#;
        let value = parse(xml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            value,
            json!({"o:order": {"@xmlns:o": "urn:x", "@id": "7",
                "line": [{"@sku": "a", "#text": "1"}, {"@sku": "b", "#text": "2"}],
                "note": "A & B", "gift": null}})
        );
        let back = render(&value, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parse(&back), Ok(value));
    }

    #[test]
    fn a_malformed_document_names_line_and_column() {
        let error = parse("<a>\n  <b></c>\n</a>");
        assert!(
            matches!(error, Err(TransformError::Parse { line: 2, .. })),
            "{error:?}"
        );
    }
}
