//! `parse` and `acknowledge` with `dictionary`, through the step configuration: a
//! message that breaks the bundled dictionary fails `parse` naming where, and is
//! rejected by `acknowledge` with the detail segments, rendered back to the sender.

use std::sync::Arc;

use serde_json::{Value, json};

use super::tests::{pipeline, run, text};
use crate::formats::dictionary::samples::fixture;
use crate::storage::{MemoryStorage, StorageStore};
use crate::transform::TransformError;

/// `parse` with `interchange: true` and `dictionary` (if any) on `text`.
fn parse(format: &str, dictionary: Option<&str>, text: &str) -> Result<Value, TransformError> {
    let mut step = json!({"format": format, "path": "edi", "into": "interchange",
                          "interchange": true});
    if let Some(dictionary) = dictionary {
        step["dictionary"] = json!(dictionary);
    }
    pipeline(json!([{ "parse": step }]))
        .run(json!({ "edi": text }))
        .map(|(mut items, _)| items.remove(0))
        .map_err(|failed| failed.error)
}

fn error(result: Result<Value, TransformError>) -> (String, &'static str) {
    match result {
        Ok(value) => panic!("expected an error, got {value}"),
        Err(error) => (error.to_string(), error.category()),
    }
}

#[test]
fn parse_names_the_message_segment_and_element_that_break_the_dictionary() {
    let orders = fixture("orders_d96a.edi");
    let parsed = parse("edifact", Some("strict"), &orders).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed["interchange"]["messages"][0]["reference"], "1");
    let no_bgm = orders
        .replace("BGM+220+PO-77812+9'\n", "")
        .replace("UNT+24+1'", "UNT+23+1'");
    assert_eq!(
        error(parse("edifact", Some("strict"), &no_bgm)),
        (
            "EDIFACT message 1 (ORDERS): segment 2 (BGM): a mandatory segment is missing here"
                .to_owned(),
            "dictionary"
        )
    );
    // Without the option only the envelopes are checked.
    assert!(parse("edifact", None, &no_bgm).is_ok());
    let long = orders.replace("PO-77812+9'", &format!("PO-{}+9'", "7".repeat(40)));
    assert_eq!(
        error(parse("edifact", Some("knownTypes"), &long)).0,
        format!(
            "EDIFACT message 1 (ORDERS): segment 2 (BGM): element 2 (1004) `PO-{}…` is longer than its 35 characters",
            "7".repeat(32)
        )
    );
    // A directory version the dictionary lacks: an error unless `knownTypes`.
    let d01b = orders.replace("ORDERS:D:96A", "ORDERS:D:01B");
    assert_eq!(
        error(parse("edifact", Some("strict"), &d01b)).0,
        "EDIFACT message 1 (ORDERS): the bundled dictionary has no ORDERS:D:01B (it holds ORDERS, DESADV and INVOIC of D:96A)"
    );
    assert!(parse("edifact", Some("knownTypes"), &d01b).is_ok());

    let po = fixture("x12_850.x12");
    assert!(parse("x12", Some("strict"), &po).is_ok());
    let bad = po
        .replace("PO1*2*12*", "PO1*2*1B*")
        .replace("CUR*BY*USD~", "CUR*BY*USD~\nCUR*BY*USD~")
        .replace("SE*14*0001~", "SE*15*0001~");
    assert_eq!(
        error(parse("x12", Some("strict"), &bad)).0,
        "X12 message 0001 (850): segment 4 (CUR) repeats more than its 1 times, segment 13 (PO1) in PO1: element 2 (330) `1B` is not numeric"
    );
}

#[tokio::test]
async fn acknowledge_rejects_with_the_detail_and_renders_it_back() {
    let storage: Arc<dyn StorageStore> = Arc::new(MemoryStorage::default());
    let x12 = pipeline(json!([
        {"acknowledge": {"format": "x12", "path": "edi", "into": "ack", "dictionary": "strict"}},
        {"render": {"format": "x12", "path": "ack", "into": "reply",
                    "envelope": {"controlNumbers": "edi"}}}
    ]));
    let po = fixture("x12_850.x12");
    let accepted = run(&x12, storage.clone(), json!({"edi": po})).await;
    assert!(
        text(&accepted, "reply").contains("~AK2*850*0001~AK5*A~AK9*A*1*1*1~"),
        "{accepted}"
    );
    let bad = po.replace("PO1*2*12*", "PO1*2*1B*");
    let rejected = run(&x12, storage.clone(), json!({"edi": bad.clone()})).await;
    let reply = text(&rejected, "reply");
    assert!(
        reply.contains(
            "~AK2*850*0001~AK3*PO1*12*PO1*8~AK4*2*330*6*1B~AK5*R*5~AK9*R*1*1*0~SE*8*0001~"
        ),
        "{reply}"
    );
    let checked = pipeline(json!([
        {"acknowledge": {"format": "x12", "path": "edi", "into": "ack", "dictionary": "strict"}}
    ]));
    let ack = run(&checked, storage.clone(), json!({"edi": bad.clone()})).await;
    assert_eq!(ack["ack"]["accepted"], false);
    assert_eq!(
        ack["ack"]["reason"],
        "X12 message 0001 (850): segment 12 (PO1) in PO1: element 2 (330) `1B` is not numeric"
    );
    // The reply is itself a sound interchange.
    assert!(parse("x12", None, &reply).is_ok());
    // Without the option the same set is accepted, as before.
    let envelopes_only = pipeline(json!([
        {"acknowledge": {"format": "x12", "path": "edi", "into": "ack"}}
    ]));
    let ack = run(&envelopes_only, storage.clone(), json!({"edi": bad})).await;
    assert_eq!(ack["ack"]["accepted"], true);

    let edifact = pipeline(json!([
        {"acknowledge": {"format": "edifact", "path": "edi", "into": "ack", "dictionary": "strict"}},
        {"render": {"format": "edifact", "path": "ack", "into": "reply",
                    "envelope": {"controlNumbers": "edi"}}}
    ]));
    let orders = fixture("orders_d96a.edi").replace("QTY+21:48:PCE'", "QTY+21:4B:PCE'");
    let rejected = run(&edifact, storage, json!({"edi": orders})).await;
    let reply = text(&rejected, "reply");
    assert!(
        reply.contains(
            "'UNH+1+CONTRL:D:3:UN'UCI+00000417+5412345000013:14+4012345500004:14+4'UCM+1+ORDERS:D:96A:UN:EAN008+4'UCS+16'UCD+37+1:2'UNT+6+1'"
        ),
        "{reply}"
    );
    assert!(parse("edifact", None, &reply).is_ok());
}
