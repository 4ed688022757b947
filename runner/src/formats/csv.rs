//! CSV ↔ JSON: delimiter, quote and header row configurable. With a header, rows become
//! objects; without, arrays of strings. Writing: a row per array element (a single
//! object: one row); the header names every key any object row has, in key order.

use serde_json::{Map, Value};
use switchyard_crds::v1alpha1::CsvOptions;

use super::FormatError;

fn byte(text: &str) -> u8 {
    text.as_bytes().first().copied().unwrap_or(b',')
}

fn error(e: &csv::Error) -> FormatError {
    let (line, column) = match e.kind() {
        csv::ErrorKind::UnequalLengths { pos, .. } => (pos.as_ref().map_or(0, |p| p.line()), 1),
        csv::ErrorKind::Utf8 { pos, err } => {
            (pos.as_ref().map_or(0, |p| p.line()), err.field() as u64 + 1)
        }
        _ => (e.position().map_or(0, |p| p.line()), 1),
    };
    FormatError::Parse {
        format: "CSV",
        line,
        column,
        message: e.to_string(),
    }
}

pub fn decode(text: &str, options: &CsvOptions) -> Result<Value, FormatError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(byte(&options.delimiter))
        .quote(byte(&options.quote))
        .has_headers(options.header)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = if options.header {
        reader
            .headers()
            .map_err(|e| error(&e))?
            .iter()
            .map(str::to_owned)
            .collect()
    } else {
        Vec::new()
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| error(&e))?;
        rows.push(if options.header {
            let mut row = Map::with_capacity(headers.len());
            for (name, field) in headers.iter().zip(record.iter()) {
                row.insert(name.clone(), Value::String(field.to_owned()));
            }
            Value::Object(row)
        } else {
            Value::Array(record.iter().map(|f| Value::String(f.to_owned())).collect())
        });
    }
    Ok(Value::Array(rows))
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

pub fn encode(value: &Value, options: &CsvOptions) -> Result<Vec<u8>, FormatError> {
    let rows = match value {
        Value::Array(rows) => rows.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut writer = csv::WriterBuilder::new()
        .delimiter(byte(&options.delimiter))
        .quote(byte(&options.quote))
        .from_writer(Vec::new());
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        if let Value::Object(map) = row {
            for key in map.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
    }
    let fail = |e: &dyn std::fmt::Display| FormatError::Encode {
        format: "CSV",
        message: e.to_string(),
    };
    if options.header && !columns.is_empty() {
        writer.write_record(&columns).map_err(|e| fail(&e))?;
    }
    for row in rows {
        let cells: Vec<String> = match row {
            Value::Object(map) => columns.iter().map(|c| cell(map.get(c))).collect(),
            Value::Array(items) => items.iter().map(|v| cell(Some(v))).collect(),
            other => vec![cell(Some(other))],
        };
        writer.write_record(&cells).map_err(|e| fail(&e))?;
    }
    writer.into_inner().map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn round_trips_and_reports_the_line_of_a_bad_row() {
        let options = CsvOptions {
            delimiter: ";".into(),
            ..CsvOptions::default()
        };
        let parsed = decode("sku;name\na1;\"Chair; oak\"\n", &options);
        assert_eq!(parsed, Ok(json!([{"sku": "a1", "name": "Chair; oak"}])));
        let text = encode(&json!([{"sku": "a1", "name": "Chair; oak"}]), &options);
        // Columns come in key order (JSON objects here keep keys sorted).
        assert_eq!(
            text.as_deref(),
            Ok("name;sku\n\"Chair; oak\";a1\n".as_bytes())
        );
        let bad = decode("a;b\n1;2\n3\n", &options);
        assert!(
            matches!(bad, Err(FormatError::Parse { line: 3, .. })),
            "{bad:?}"
        );
    }
}
