//! Reading file contents into items. CSV: one object per record, header → keys; JSON:
//! an array is one item per element; JSON Lines: one item per line; XML: the document
//! converted to JSON (see the SOAP connector's converter).

use serde_json::{Map, Value};

/// A file format a poll reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv { delimiter: u8 },
    Json,
    JsonLines,
    Xml,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv { .. } => "CSV",
            Self::Json => "JSON",
            Self::JsonLines => "JSON Lines",
            Self::Xml => "XML",
        }
    }
}

/// Parses `bytes`; `per_record` splits CSV records, JSON arrays and JSON lines into
/// items, otherwise the file is one item (CSV: an array of records). The error says
/// where (line and record).
pub fn parse(bytes: &[u8], format: Format, per_record: bool) -> Result<Vec<Value>, String> {
    let items = match format {
        Format::Csv { delimiter } => {
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .from_reader(bytes);
            let headers = reader.headers().map_err(|e| e.to_string())?.clone();
            let mut records = Vec::new();
            for record in reader.records() {
                let record = record.map_err(|e| e.to_string())?;
                let object: Map<String, Value> = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect();
                records.push(Value::Object(object));
            }
            if per_record {
                records
            } else {
                vec![Value::Array(records)]
            }
        }
        Format::Json => {
            let value: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
            match value {
                Value::Array(items) if per_record => items,
                other => vec![other],
            }
        }
        Format::JsonLines => {
            let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
            let mut items = Vec::new();
            for (index, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                items.push(
                    serde_json::from_str(line).map_err(|e| format!("line {}: {e}", index + 1))?,
                );
            }
            if per_record {
                items
            } else {
                vec![Value::Array(items)]
            }
        }
        Format::Xml => {
            let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
            vec![crate::connectors::soap::xml_to_json(text)?]
        }
    };
    Ok(items)
}
