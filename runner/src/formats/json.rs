//! JSON: one document; written pretty-printed.

use serde_json::Value;

use super::FormatError;

pub fn decode(bytes: &[u8]) -> Result<Value, FormatError> {
    serde_json::from_slice(bytes).map_err(|e| FormatError::Parse {
        format: "JSON",
        line: e.line() as u64,
        column: e.column() as u64,
        message: e.to_string(),
    })
}

pub fn encode(value: &Value) -> Result<Vec<u8>, FormatError> {
    serde_json::to_vec_pretty(value).map_err(|e| FormatError::Encode {
        format: "JSON",
        message: e.to_string(),
    })
}
