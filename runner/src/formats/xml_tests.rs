use proptest::prelude::*;
use serde_json::json;

use super::*;

fn read(xml: &str) -> Value {
    decode(xml, &XmlOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn reads_local_names_attributes_arrays_and_entities() {
    let xml = r#"<o:order xmlns:o="urn:x" xmlns="urn:d" o:id="7"><line sku="a">1</line><line sku="b">2</line><note>A &amp; B &#x26; C</note><gift/><wrap></wrap><c><![CDATA[<b>x</b>]]></c></o:order>"#;
    assert_eq!(
        read(xml),
        json!({"order": {"@id": "7",
            "line": [{"@sku": "a", "#text": "1"}, {"@sku": "b", "#text": "2"}],
            "note": "A & B & C", "gift": "", "wrap": "", "c": "<b>x</b>"}})
    );
}

#[test]
fn the_same_document_with_other_prefixes_reads_the_same() {
    let a = read(r#"<a:r xmlns:a="urn:x"><a:v>1</a:v></a:r>"#);
    let b = read(r#"<r xmlns="urn:x"><v>1</v></r>"#);
    assert_eq!(a, b);
    assert_eq!(a, json!({"r": {"v": "1"}}));
}

#[test]
fn xsi_nil_is_null_and_forced_arrays_are_arrays() {
    let xml = r#"<r xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><a i:nil="true"/><b>x</b><c><d>1</d></c></r>"#;
    let options = XmlOptions {
        arrays: vec!["b".into(), "d".into()],
    };
    assert_eq!(
        decode(xml, &options),
        Ok(json!({"r": {"a": null, "b": ["x"], "c": {"d": ["1"]}}}))
    );
    // A `nil` attribute of another namespace is an attribute like any other.
    assert_eq!(
        read(r#"<r><a nil="true"/></r>"#),
        json!({"r": {"a": {"@nil": "true"}}})
    );
}

#[test]
fn a_malformed_document_names_line_and_column() {
    for bad in [
        "<a>\n  <b></c>\n</a>",
        "<a>\n<b>",
        "",
        "<a/>\n<b/>",
        "<a>&nope;</a>",
        "<a x=1/>",
        "<a x=\"&bad;\"/>",
    ] {
        let error = decode(bad, &XmlOptions::default());
        assert!(
            matches!(error, Err(FormatError::Parse { format: "XML", .. })),
            "{bad}: {error:?}"
        );
    }
    let error = decode("<a>\n  <b></c>\n</a>", &XmlOptions::default());
    assert!(
        matches!(error, Err(FormatError::Parse { line: 2, .. })),
        "{error:?}"
    );
}

#[test]
fn writes_attributes_text_arrays_and_refuses_bad_names() {
    let value = json!({"o:order": {"@xmlns:o": "urn:x", "@id": 7, "#text": "a<b",
        "line": [{"@sku": "a"}, "2"], "gift": null}});
    let text = encode(&value, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        text,
        r#"<o:order id="7" xmlns:o="urn:x">a&lt;b<gift/><line sku="a"/><line>2</line></o:order>"#
    );
    assert_eq!(
        read(&text),
        json!({"order": {"@id": "7", "#text": "a<b", "gift": "", "line": [{"@sku": "a"}, "2"]}})
    );
    assert_eq!(
        encode(&json!({"v": 1}), Some("root")).as_deref(),
        Ok("<root><v>1</v></root>")
    );
    for bad in [
        json!({"a b": 1}),
        json!({"r": {"x><y": 1}}),
        json!({"r": {"@on\"x": 1}}),
        json!({"r": [1, 2]}),
        json!({"a": 1, "b": 2}),
        json!("text"),
    ] {
        assert!(
            matches!(encode(&bad, None), Err(FormatError::Encode { .. })),
            "{bad}"
        );
    }
}

/// Text the convention keeps as it is: trimmed, with the characters that need
/// escaping.
fn text() -> impl Strategy<Value = String> {
    "[a-z0-9 &<>\"'.;]{0,8}".prop_map(|s| s.trim().to_owned())
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c_d", "e-f"]).prop_map(str::to_owned)
}

/// JSON values in the image of `decode`: strings, and objects with at least one
/// attribute or child, children that repeat as arrays of two or more.
fn element_value() -> impl Strategy<Value = Value> {
    let leaf = text().prop_map(Value::String);
    leaf.prop_recursive(3, 24, 4, |inner| {
        (
            prop::collection::btree_map(name(), text(), 0..3),
            prop::collection::btree_map(
                name(),
                prop_oneof![
                    inner.clone(),
                    prop::collection::vec(inner, 2..4).prop_map(Value::Array)
                ],
                0..3,
            ),
            prop::option::of(text().prop_filter("non-empty", |t| !t.is_empty())),
        )
            .prop_filter("an attribute or a child", |(a, c, _)| {
                !a.is_empty() || !c.is_empty()
            })
            .prop_map(|(attributes, children, text)| {
                let mut fields = Map::new();
                for (key, value) in attributes {
                    fields.insert(format!("@{key}"), Value::String(value));
                }
                for (key, value) in children {
                    fields.insert(key, value);
                }
                if let Some(text) = text {
                    fields.insert("#text".into(), Value::String(text));
                }
                Value::Object(fields)
            })
    })
}

proptest! {
    #[test]
    fn decode_reads_what_encode_writes(value in element_value()) {
        let document = json!({"root": value});
        let text = encode(&document, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decode(&text, &XmlOptions::default()), Ok(document), "{}", text);
    }
}
