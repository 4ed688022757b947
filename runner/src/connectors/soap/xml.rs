//! XML ↔ JSON for SOAP bodies and XML files. XML → JSON: an element is an object of its
//! children keyed by local name (namespace prefixes dropped), a repeated child becomes
//! an array, an element with only text becomes a string, attributes become `@name`
//! keys and mixed text `#text`. JSON → XML: object keys become elements, arrays repeat
//! the element, scalars become escaped text.

use quick_xml::Reader;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use serde_json::{Map, Value};

fn local(name: &[u8]) -> String {
    let text = String::from_utf8_lossy(name);
    text.rsplit(':').next().unwrap_or_default().to_owned()
}

fn insert(object: &mut Map<String, Value>, key: String, value: Value) {
    match object.get_mut(&key) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            object.insert(key, value);
        }
    }
}

struct Open {
    name: String,
    children: Map<String, Value>,
    text: String,
}

impl Open {
    fn finish(self) -> Value {
        let text = self.text.trim();
        if self.children.is_empty() {
            Value::String(text.to_owned())
        } else {
            let mut children = self.children;
            if !text.is_empty() {
                children.insert("#text".into(), Value::String(text.to_owned()));
            }
            Value::Object(children)
        }
    }
}

/// Converts an XML document to JSON: `{"Root": …}`. The error says where.
pub fn xml_to_json(text: &str) -> Result<Value, String> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Open> = vec![Open {
        name: String::new(),
        children: Map::new(),
        text: String::new(),
    }];
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {position}: {e}"))?;
        match event {
            Event::Start(start) => {
                let mut open = Open {
                    name: local(start.name().as_ref()),
                    children: Map::new(),
                    text: String::new(),
                };
                attributes(&start, &mut open.children)?;
                stack.push(open);
            }
            Event::Empty(start) => {
                let mut open = Open {
                    name: local(start.name().as_ref()),
                    children: Map::new(),
                    text: String::new(),
                };
                attributes(&start, &mut open.children)?;
                let name = open.name.clone();
                let value = open.finish();
                if let Some(parent) = stack.last_mut() {
                    insert(&mut parent.children, name, value);
                }
            }
            Event::Text(content) => {
                let decoded = content
                    .decode()
                    .map_err(|e| format!("at byte {position}: {e}"))?;
                let unescaped = quick_xml::escape::unescape(&decoded)
                    .map_err(|e| format!("at byte {position}: {e}"))?;
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&unescaped);
                }
            }
            Event::CData(content) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&String::from_utf8_lossy(&content));
                }
            }
            Event::GeneralRef(reference) => {
                let name = String::from_utf8_lossy(&reference).into_owned();
                let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                    .map(|c| c.into_owned())
                    .map_err(|e| format!("at byte {position}: {e}"))?;
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&resolved);
                }
            }
            Event::End(_) => {
                if stack.len() < 2 {
                    return Err(format!("at byte {position}: unexpected closing tag"));
                }
                if let Some(open) = stack.pop() {
                    let name = open.name.clone();
                    let value = open.finish();
                    if let Some(parent) = stack.last_mut() {
                        insert(&mut parent.children, name, value);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err("the document ends inside an element".into());
    }
    let root = stack.pop().map(|o| o.children).unwrap_or_default();
    if root.is_empty() {
        return Err("the document has no element".into());
    }
    Ok(Value::Object(root))
}

fn attributes(
    start: &quick_xml::events::BytesStart<'_>,
    into: &mut Map<String, Value>,
) -> Result<(), String> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let key = attribute.key.as_ref();
        if key.starts_with(b"xmlns") {
            continue;
        }
        let value = attribute.unescape_value().map_err(|e| e.to_string())?;
        into.insert(
            format!("@{}", local(key)),
            Value::String(value.into_owned()),
        );
    }
    Ok(())
}

/// Writes `value` as the content of an element: child elements for an object's keys
/// (arrays repeat the element), escaped text for a scalar.
pub fn json_to_xml(value: &Value, out: &mut String) {
    match value {
        Value::Object(fields) => {
            for (key, child) in fields {
                if !switchyard_crds::is_identifier(key) {
                    continue;
                }
                let items: Vec<&Value> = match child {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for item in items {
                    if item.is_null() {
                        out.push_str(&format!("<{key}/>"));
                        continue;
                    }
                    out.push_str(&format!("<{key}>"));
                    json_to_xml(item, out);
                    out.push_str(&format!("</{key}>"));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                json_to_xml(item, out);
            }
        }
        Value::String(text) => out.push_str(&escape(text.as_str())),
        Value::Null => {}
        other => out.push_str(&other.to_string()),
    }
}
