//! Turning a webhook body into items: an object is one item, an array one per element.
//!
//! The body is parsed once, straight into the items (no intermediate array value), and
//! parsing stops at the first element past the route's cap: a request with a million
//! small elements costs the memory of `max_items` items, not of a million.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a body was refused; the text tells the sender what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is empty; send a JSON object or an array of objects")]
    Empty,
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the body is a JSON {0}; send a JSON object or an array of objects")]
    NotAnItem(&'static str),
    #[error("element {index} of the array is a JSON {kind}; every element must be an object")]
    ElementNotAnItem { index: usize, kind: &'static str },
    #[error(
        "the body holds more than {max_items} items, the most one request may carry \
         (`incoming.webhook.maxItems`, or the runner's --webhook-max-items); nothing was \
         queued: send at most {max_items} items per request"
    )]
    TooManyItems { max_items: usize },
}

impl BodyError {
    /// Whether the body is refused for its size (413) rather than its content (400).
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::TooManyItems { .. })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The items of `body`, at most `max_items` of them.
pub fn items_of_body(body: &[u8], max_items: usize) -> Result<Vec<Value>, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let refused = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = Items {
        max_items,
        refused: &refused,
    }
    .deserialize(&mut deserializer)
    .and_then(|items| deserializer.end().map(|()| items));
    match (parsed, refused.take()) {
        (_, Some(error)) => Err(error),
        (Ok(items), None) => Ok(items),
        (Err(error), None) => Err(BodyError::NotJson(error.to_string())),
    }
}

/// The body's text when it is one JSON object: the item as its sender wrote it, for a
/// body [`items_of_body`] took as one item. `None` for an array.
pub fn object_text(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?.trim_ascii();
    text.starts_with('{').then_some(text)
}

/// The whole body: an object or an array of objects. A refusal other than bad JSON is
/// left in `refused` (serde's error type can only carry text).
struct Items<'a> {
    max_items: usize,
    refused: &'a Cell<Option<BodyError>>,
}

impl Items<'_> {
    fn refuse<E: de::Error>(&self, error: BodyError) -> E {
        let message = error.to_string();
        self.refused.set(Some(error));
        E::custom(message)
    }
}

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = Vec<Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or an array of objects")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let object: Map<String, Value> =
            serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(vec![Value::Object(object)])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max_items));
        while let Some(item) = seq.next_element::<Value>()? {
            if !item.is_object() {
                return Err(self.refuse(BodyError::ElementNotAnItem {
                    index: items.len(),
                    kind: kind(&item),
                }));
            }
            if items.len() == self.max_items {
                return Err(self.refuse(BodyError::TooManyItems {
                    max_items: self.max_items,
                }));
            }
            items.push(item);
        }
        Ok(items)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.refuse(BodyError::NotAnItem("boolean")))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(self.refuse(BodyError::NotAnItem("number")))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(self.refuse(BodyError::NotAnItem("number")))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(self.refuse(BodyError::NotAnItem("number")))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(self.refuse(BodyError::NotAnItem("string")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.refuse(BodyError::NotAnItem("null")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: usize = 100;

    #[test]
    fn objects_and_arrays_of_objects_only() {
        assert_eq!(items_of_body(br#"{"a":1}"#, CAP).map(|i| i.len()), Ok(1));
        assert_eq!(
            items_of_body(br#"[{"a":1},{"a":2}]"#, CAP).map(|i| i.len()),
            Ok(2)
        );
        assert_eq!(items_of_body(b"[]", CAP), Ok(Vec::new()));
        assert_eq!(items_of_body(b" ", CAP), Err(BodyError::Empty));
        assert_eq!(
            items_of_body(b"42", CAP),
            Err(BodyError::NotAnItem("number"))
        );
        assert_eq!(
            items_of_body(br#""text""#, CAP),
            Err(BodyError::NotAnItem("string"))
        );
        assert_eq!(
            items_of_body(b"null", CAP),
            Err(BodyError::NotAnItem("null"))
        );
        assert_eq!(
            items_of_body(br#"[{"a":1}, 3]"#, CAP),
            Err(BodyError::ElementNotAnItem {
                index: 1,
                kind: "number"
            })
        );
        assert_eq!(
            items_of_body(br#"[{"a":1}, [{"b": 2}]]"#, CAP),
            Err(BodyError::ElementNotAnItem {
                index: 1,
                kind: "array"
            })
        );
        let error = items_of_body(br#"{"a": }"#, CAP)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("line 1 column"), "{error}");
        let trailing = items_of_body(br#"{"a": 1} {"b": 2}"#, CAP);
        assert!(
            matches!(&trailing, Err(BodyError::NotJson(e)) if e.contains("trailing")),
            "{trailing:?}"
        );
    }

    #[test]
    fn parsing_stops_at_the_cap() {
        let exactly: String = format!("[{}]", vec![r#"{"a":1}"#; CAP].join(","));
        assert_eq!(
            items_of_body(exactly.as_bytes(), CAP).map(|i| i.len()),
            Ok(CAP)
        );
        // One more, and the rest of the body is not even valid: parsing stopped before.
        let over = format!(
            "[{},{{\"a\":1}}, nonsense",
            vec![r#"{"a":1}"#; CAP].join(",")
        );
        let refused = items_of_body(over.as_bytes(), CAP);
        assert_eq!(refused, Err(BodyError::TooManyItems { max_items: CAP }));
        assert!(refused.is_err_and(|e| e.is_too_large() && e.to_string().contains("100 items")));
    }
}
