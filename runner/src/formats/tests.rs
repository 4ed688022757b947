//! The common shape: every format decodes what it encodes.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn options() -> Options {
    Options::default()
}

#[test]
fn each_format_reads_what_it_writes() {
    let rows = json!([{"id": "1", "name": "Ann"}, {"id": "2", "name": "Bob"}]);
    for format in [Format::Json, Format::JsonLines, Format::Csv] {
        let bytes = format
            .encode(&rows, &options())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            format.decode(&bytes, &options()),
            Ok(rows.clone()),
            "{format:?}"
        );
    }
    let document = json!({"order": {"@id": "7", "line": ["a", "b"]}});
    let bytes = Format::Xml
        .encode(&document, &options())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Format::Xml.decode(&bytes, &options()), Ok(document));
    let segments =
        json!({"segments": [{"tag": "UNH", "elements": ["1", ["ORDERS", "D", "96A", "UN"]]}]});
    let bytes = Format::Edifact
        .encode(&segments, &options())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Format::Edifact.decode(&bytes, &options()), Ok(segments));
}

#[test]
fn a_single_object_is_one_line_or_row_and_records_split_arrays() {
    let item = json!({"a": "1"});
    assert_eq!(
        Format::JsonLines
            .encode_string(&item, &options())
            .as_deref(),
        Ok("{\"a\":\"1\"}\n")
    );
    assert_eq!(
        Format::Csv.encode_string(&item, &options()).as_deref(),
        Ok("a\n1\n")
    );
    assert_eq!(records(json!([1, 2])), [json!(1), json!(2)]);
    assert_eq!(records(json!({"a": 1})), [json!({"a": 1})]);
}

#[test]
fn errors_name_the_format_and_where() {
    let error = Format::Json.decode(b"{\n  \"a\": }", &options());
    assert!(
        matches!(
            error,
            Err(FormatError::Parse {
                format: "JSON",
                line: 2,
                ..
            })
        ),
        "{error:?}"
    );
    let error = Format::Csv.decode(b"a,b\n1,\xff\n", &options());
    assert!(
        matches!(error, Err(FormatError::NotUtf8 { offset: 6, .. })),
        "{error:?}"
    );
    let error = Format::JsonLines.decode(b"{\"a\":1}\n{oops\n", &options());
    assert!(
        matches!(error, Err(FormatError::Parse { line: 2, .. })),
        "{error:?}"
    );
    assert_eq!(
        error.map_err(|e| e.category()),
        Err("parse"),
        "a parse error's category"
    );
    let error = Format::Xml.encode(&json!([1]), &options());
    assert_eq!(error.map_err(|e| e.category()), Err("encode"));
}

fn cell() -> impl Strategy<Value = Value> {
    "[a-z0-9 ,;\"'\n]{0,6}".prop_map(Value::String)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~é\n\t]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn csv_reads_what_it_writes(
        columns in prop::collection::btree_set("[a-z]{1,4}", 1..4),
        cells in prop::collection::vec(prop::collection::vec(cell(), 4), 0..5),
    ) {
        let rows: Vec<Value> = cells
            .into_iter()
            .map(|row| {
                Value::Object(columns.iter().cloned().zip(row).collect())
            })
            .collect();
        let value = Value::Array(rows);
        let bytes = Format::Csv.encode(&value, &options()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Format::Csv.decode(&bytes, &options()), Ok(value));
    }

    #[test]
    fn json_lines_and_json_read_what_they_write(
        values in prop::collection::vec(json_value(), 0..5),
    ) {
        let value = Value::Array(values);
        for format in [Format::JsonLines, Format::Json] {
            let bytes = format.encode(&value, &options()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(format.decode(&bytes, &options()), Ok(value.clone()));
        }
    }

    #[test]
    fn edifact_reads_what_it_writes(
        segments in prop::collection::vec(
            ("[A-Z]{3}".prop_filter("not a service string advice", |t| t != "UNA"), prop::collection::vec(
                prop_oneof![
                    "[A-Za-z0-9:+?'.]{1,5}".prop_map(Value::String),
                    prop::collection::vec("[A-Za-z0-9:+?']{1,4}", 2..4)
                        .prop_map(|c| json!(c)),
                ],
                1..4,
            )),
            1..4,
        ),
    ) {
        let value = json!({"segments": segments
            .into_iter()
            .map(|(tag, elements)| json!({"tag": tag, "elements": elements}))
            .collect::<Vec<_>>()});
        let bytes = Format::Edifact.encode(&value, &options()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Format::Edifact.decode(&bytes, &options()), Ok(value));
    }
}
