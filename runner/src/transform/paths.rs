//! Reading and writing JSON values at dotted paths.

use serde_json::{Map, Value};
use switchyard_crds::path::FieldPath;

use super::TransformError;

fn path_error(path: &FieldPath, reason: impl Into<String>) -> TransformError {
    TransformError::Path {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Sets the value at `path`, creating objects along the way.
pub fn set(root: &mut Value, path: &FieldPath, value: Value) -> Result<(), TransformError> {
    let (last, parents) = split_last(path);
    let mut current = root;
    for segment in parents {
        current = match current {
            Value::Object(map) => map
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => index(segment)
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| path_error(path, format!("no array element `{segment}`")))?,
            _ => {
                return Err(path_error(
                    path,
                    format!("`{segment}` is inside a value that is not an object"),
                ));
            }
        };
    }
    match current {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let slot = index(last)
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| path_error(path, format!("no array element `{last}`")))?;
            *slot = value;
            Ok(())
        }
        _ => Err(path_error(path, "the parent is not an object")),
    }
}

/// The value at `path`, if any.
pub fn get<'a>(root: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    let mut current = root;
    for segment in path.segments() {
        current = match current {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(index(segment)?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The value at `path`, to change in place.
pub fn get_mut<'a>(root: &'a mut Value, path: &FieldPath) -> Option<&'a mut Value> {
    let mut current = root;
    for segment in path.segments() {
        current = match current {
            Value::Object(map) => map.get_mut(segment)?,
            Value::Array(items) => items.get_mut(index(segment)?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Removes and returns the value at `path`, if any.
pub fn take(root: &mut Value, path: &FieldPath) -> Option<Value> {
    let (last, parents) = split_last(path);
    let mut current = root;
    for segment in parents {
        current = match current {
            Value::Object(map) => map.get_mut(segment)?,
            Value::Array(items) => items.get_mut(index(segment)?)?,
            _ => return None,
        };
    }
    match current {
        Value::Object(map) => map.remove(last),
        Value::Array(items) => {
            let i = index(last)?;
            (i < items.len()).then(|| items.remove(i))
        }
        _ => None,
    }
}

fn split_last(path: &FieldPath) -> (&String, &[String]) {
    let segments = path.segments();
    // A FieldPath is never empty (FieldPath::parse guarantees it).
    let (last, parents) = segments
        .split_last()
        .unwrap_or_else(|| unreachable!("empty FieldPath"));
    (last, parents)
}

fn index(segment: &str) -> Option<usize> {
    segment.parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(text: &str) -> FieldPath {
        FieldPath::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn sets_and_takes_nested_values() {
        let mut value = json!({"a": {"list": [1, 2]}});
        assert_eq!(set(&mut value, &path("b.c"), json!(true)), Ok(()));
        assert_eq!(set(&mut value, &path("a.list.1"), json!(9)), Ok(()));
        assert_eq!(value, json!({"a": {"list": [1, 9]}, "b": {"c": true}}));
        assert_eq!(take(&mut value, &path("a.list.0")), Some(json!(1)));
        assert_eq!(take(&mut value, &path("x.y")), None);
        assert!(set(&mut value, &path("a.list.7"), json!(0)).is_err());
    }
}
