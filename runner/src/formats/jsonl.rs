//! JSON Lines: one JSON value per line; blank lines are skipped.

use serde_json::Value;

use crate::transform::TransformError;

pub fn parse(text: &str) -> Result<Value, TransformError> {
    let mut items = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line).map_err(|e| TransformError::Parse {
            format: "JSON Lines",
            line: index as u64 + 1,
            column: e.column() as u64,
            message: e.to_string(),
        })?;
        items.push(value);
    }
    Ok(Value::Array(items))
}

pub fn render(value: &Value) -> Result<String, String> {
    let Value::Array(items) = value else {
        return Err("JSON Lines needs an array".into());
    };
    let mut text = String::new();
    for item in items {
        text.push_str(&item.to_string());
        text.push('\n');
    }
    Ok(text)
}
