//! XML ↔ JSON, the one convention of Switchyard (docs/transformers.md, "XML and JSON"):
//!
//! - the document is an object with one key, the root element;
//! - an element is named by its local name: namespace prefixes are dropped and `xmlns`
//!   declarations are not kept (`<o:order xmlns:o="urn:x">` is `order`), so a
//!   sender's choice of prefixes does not change the JSON;
//! - attributes are `@name` (local name) keys;
//! - an element with neither attributes nor child elements is its text, a string
//!   (`<a/>` and `<a></a>` are `""`; `xsi:nil="true"` makes it `null`);
//! - otherwise it is an object: child elements by name, text beside them `#text`;
//! - a repeated element is an array in document order; elements named in
//!   [`XmlOptions::arrays`] are arrays even when they occur once;
//! - text (CDATA included, entities and character references resolved) is trimmed;
//!   values are never guessed to be numbers; comments, processing instructions and the
//!   DTD are skipped.
//!
//! Writing is the reverse: keys become elements (written as given, so `ns:tag` keys and
//! `@xmlns:ns` attributes produce a namespaced document), `@name` keys attributes,
//! `#text` text, arrays repeat the element, `null` is an empty element. A key that is
//! not an XML name is refused.

use quick_xml::NsReader;
use quick_xml::escape::{escape, unescape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use serde_json::{Map, Value};
use switchyard_crds::v1alpha1::XmlOptions;

use super::{FormatError, error_at};

const XSI: &[u8] = b"http://www.w3.org/2001/XMLSchema-instance";

struct Frame {
    name: String,
    fields: Map<String, Value>,
    text: String,
    nil: bool,
}

impl Frame {
    fn finish(self) -> Value {
        let text = self.text.trim();
        if self.fields.is_empty() {
            if self.nil && text.is_empty() {
                return Value::Null;
            }
            return Value::String(text.to_owned());
        }
        let mut fields = self.fields;
        if !text.is_empty() {
            fields.insert("#text".into(), Value::String(text.to_owned()));
        }
        Value::Object(fields)
    }
}

fn insert(fields: &mut Map<String, Value>, name: String, value: Value, array: bool) {
    match fields.get_mut(&name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None if array => {
            fields.insert(name, Value::Array(vec![value]));
        }
        None => {
            fields.insert(name, value);
        }
    }
}

fn local(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    name.rsplit(':').next().unwrap_or_default().to_owned()
}

/// Reads an XML document into `{"root": …}`. The error names the line and column.
pub fn decode(text: &str, options: &XmlOptions) -> Result<Value, FormatError> {
    let mut reader = NsReader::from_str(text);
    let fail = |offset: u64, message: String| error_at("XML", text, offset as usize, message);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = Map::new();
    let close = |stack: &mut Vec<Frame>, root: &mut Map<String, Value>| {
        let Some(frame) = stack.pop() else {
            return;
        };
        let name = frame.name.clone();
        let array = options.arrays.contains(&name);
        let value = frame.finish();
        let parent = match stack.last_mut() {
            Some(parent) => &mut parent.fields,
            None => root,
        };
        insert(parent, name, value, array);
    };
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| fail(reader.error_position(), e.to_string()))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if stack.is_empty() && !root.is_empty() {
                    return Err(fail(position, "a second root element".into()));
                }
                let frame = open(&reader, start, |e| fail(position, e.to_string()))?;
                stack.push(frame);
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root);
                }
            }
            Event::End(_) => close(&mut stack, &mut root),
            Event::Text(content) => {
                let raw = content
                    .xml_content()
                    .map_err(|e| fail(position, e.to_string()))?;
                match stack.last_mut() {
                    Some(frame) => frame.text.push_str(&raw),
                    None if raw.trim().is_empty() => {}
                    None => return Err(fail(position, "text outside the root element".into())),
                }
            }
            Event::CData(content) => {
                if let Some(frame) = stack.last_mut() {
                    let raw = content
                        .xml_content()
                        .map_err(|e| fail(position, e.to_string()))?;
                    frame.text.push_str(&raw);
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

/// The frame of an element that starts: its local name and attributes; `fail` places
/// an error of its attributes.
fn open(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    fail: impl Fn(&dyn std::fmt::Display) -> FormatError,
) -> Result<Frame, FormatError> {
    let mut frame = Frame {
        name: local(start.name().as_ref()),
        fields: Map::new(),
        text: String::new(),
        nil: false,
    };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| fail(&e))?;
        let key = attribute.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attribute
            .unescape_value()
            .map_err(|e| fail(&e))?
            .into_owned();
        let (namespace, name) = reader.resolve_attribute(key);
        if matches!(namespace, ResolveResult::Bound(Namespace(XSI))) && name.as_ref() == b"nil" {
            frame.nil = value.trim() == "true" || value.trim() == "1";
            continue;
        }
        frame
            .fields
            .insert(format!("@{}", local(name.as_ref())), Value::String(value));
    }
    Ok(frame)
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Whether `name` can be written as an element or attribute name: a letter or `_`
/// first, then letters, digits, `_`, `-`, `.`, and at most one `:` between two parts.
pub fn is_name(name: &str) -> bool {
    let part = |part: &str| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    match name.split_once(':') {
        Some((prefix, local)) => part(prefix) && part(local),
        None => part(name),
    }
}

fn refuse(name: &str, what: &str) -> FormatError {
    FormatError::Encode {
        format: "XML",
        message: format!("`{name}` is not an XML {what} name"),
    }
}

/// Writes the element `name` with `value` (see the module documentation).
pub fn element(out: &mut String, name: &str, value: &Value) -> Result<(), FormatError> {
    element_ordered(out, name, value, |_| &[])
}

/// The order of an element's children when writing (a JSON object's keys have none):
/// `order(parent)` lists child names; those come first, in that order, the others
/// after them as the object holds them. A format whose schema fixes the order (a DTD's
/// sequences) gives one.
pub type ChildOrder = fn(&str) -> &'static [&'static str];

/// [`element`] with the children of each element in `order`.
pub fn element_ordered(
    out: &mut String,
    name: &str,
    value: &Value,
    order: ChildOrder,
) -> Result<(), FormatError> {
    if let Value::Array(items) = value {
        for item in items {
            element_ordered(out, name, item, order)?;
        }
        return Ok(());
    }
    if !is_name(name) {
        return Err(refuse(name, "element"));
    }
    out.push('<');
    out.push_str(name);
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                if let Some(attribute) = key.strip_prefix('@') {
                    if !is_name(attribute) {
                        return Err(refuse(attribute, "attribute"));
                    }
                    out.push_str(&format!(" {attribute}=\"{}\"", escape(scalar(value))));
                }
            }
            let mut children: Vec<(&String, &Value)> =
                fields.iter().filter(|(k, _)| !k.starts_with('@')).collect();
            if children.is_empty() {
                out.push_str("/>");
                return Ok(());
            }
            let listed = order(name);
            if !listed.is_empty() {
                // Stable: children the order does not list keep their places after.
                children.sort_by_key(|(key, _)| {
                    listed
                        .iter()
                        .position(|n| *n == key.as_str())
                        .unwrap_or(listed.len())
                });
            }
            out.push('>');
            for (key, value) in children {
                if key == "#text" {
                    out.push_str(&escape(scalar(value)));
                } else {
                    element_ordered(out, key, value, order)?;
                }
            }
        }
        Value::Null => {
            out.push_str("/>");
            return Ok(());
        }
        other => {
            out.push('>');
            out.push_str(&escape(scalar(other)));
        }
    }
    out.push_str(&format!("</{name}>"));
    Ok(())
}

/// Writes `value` as an XML document. Without `root`, `value` must be an object with
/// one key: the root element.
pub fn encode(value: &Value, root: Option<&str>) -> Result<String, FormatError> {
    let fail = |message: &str| FormatError::Encode {
        format: "XML",
        message: message.into(),
    };
    let (name, content) = match (root, value) {
        (Some(root), value) => (root, value),
        (None, Value::Object(fields)) if fields.len() == 1 => fields
            .iter()
            .next()
            .map(|(name, value)| (name.as_str(), value))
            .ok_or_else(|| fail("no root element"))?,
        _ => {
            return Err(fail(
                "XML needs an object with one key (the root element), or `root`",
            ));
        }
    };
    if content.is_array() {
        return Err(fail(
            "a document has one root element, not an array of them",
        ));
    }
    let mut out = String::new();
    element(&mut out, name, content)?;
    Ok(out)
}

#[cfg(test)]
#[path = "xml_tests.rs"]
mod tests;
