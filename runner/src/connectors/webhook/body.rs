//! Turning a webhook body into items: an object is one item, an array one per element.

use serde_json::Value;

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

pub fn items_of_body(body: &[u8]) -> Result<Vec<Value>, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    match serde_json::from_slice(body).map_err(|e| BodyError::NotJson(e.to_string()))? {
        object @ Value::Object(_) => Ok(vec![object]),
        Value::Array(elements) => {
            if let Some((index, element)) =
                elements.iter().enumerate().find(|(_, e)| !e.is_object())
            {
                return Err(BodyError::ElementNotAnItem {
                    index,
                    kind: kind(element),
                });
            }
            Ok(elements)
        }
        other => Err(BodyError::NotAnItem(kind(&other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_arrays_of_objects_only() {
        assert_eq!(items_of_body(br#"{"a":1}"#).map(|i| i.len()), Ok(1));
        assert_eq!(
            items_of_body(br#"[{"a":1},{"a":2}]"#).map(|i| i.len()),
            Ok(2)
        );
        assert_eq!(items_of_body(b" "), Err(BodyError::Empty));
        assert_eq!(items_of_body(b"42"), Err(BodyError::NotAnItem("number")));
        assert_eq!(
            items_of_body(br#"[{"a":1}, 3]"#),
            Err(BodyError::ElementNotAnItem {
                index: 1,
                kind: "number"
            })
        );
        let error = items_of_body(br#"{"a": }"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("line 1 column"), "{error}");
    }
}
