//! JSON Lines: one JSON value per line; blank lines are skipped. Writing: a line per
//! element of an array, a single line for any other value.

use serde_json::Value;

use super::FormatError;

pub fn decode(text: &str) -> Result<Value, FormatError> {
    let mut items = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line).map_err(|e| FormatError::Parse {
            format: "JSON Lines",
            line: index as u64 + 1,
            column: e.column() as u64,
            message: e.to_string(),
        })?;
        items.push(value);
    }
    Ok(Value::Array(items))
}

pub fn encode(value: &Value) -> String {
    let mut text = String::new();
    for item in super::records(value.clone()) {
        text.push_str(&item.to_string());
        text.push('\n');
    }
    text
}
