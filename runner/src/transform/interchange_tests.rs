//! Interchanges through the steps: envelopes written and checked, control numbers from
//! storage across restarts, acknowledgements.

use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_crds::catalog::LabeledStep;
use switchyard_crds::v1alpha1::Step;

use crate::queue::SqlQueue;
use crate::storage::{MemoryStorage, StorageStore};
use crate::transform::{Context, Pipeline, build_pipeline};

pub(super) fn pipeline(steps: Value) -> Pipeline {
    let steps: Vec<Step> = serde_json::from_value(steps).unwrap_or_else(|e| panic!("{e}"));
    let labeled: Vec<LabeledStep> = steps
        .into_iter()
        .map(|step| LabeledStep {
            label: "step".into(),
            step,
        })
        .collect();
    build_pipeline(&labeled).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) async fn run(pipeline: &Pipeline, storage: Arc<dyn StorageStore>, item: Value) -> Value {
    let context = Context::new("shop", storage);
    let (mut items, _) = pipeline
        .run_batch(vec![item], &context)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(items.len(), 1);
    items.remove(0)
}

/// An ORDERS body (BGM to the summary), as a buyer's system would send it.
fn orders_body(order: &str) -> Value {
    json!([
        {"tag": "BGM", "elements": ["220", order, "9"]},
        {"tag": "DTM", "elements": [["137", "20261202", "102"]]},
        {"tag": "NAD", "elements": ["BY", ["5412345000013", "", "9"]]},
        {"tag": "NAD", "elements": ["SU", ["4012345500004", "", "9"]]},
        {"tag": "LIN", "elements": ["1", "", ["4000862141404", "SRS"]]},
        {"tag": "QTY", "elements": [["21", "48"]]},
        {"tag": "PRI", "elements": [["AAA", "12.50"]]},
        {"tag": "UNS", "elements": ["S"]},
        {"tag": "CNT", "elements": [["2", "1"]]}
    ])
}

fn render_edifact(group: bool) -> Pipeline {
    pipeline(
        json!([{"render": {"format": "edifact", "path": "order", "into": "edi",
        "envelope": {"sender": "4012345500004", "senderQualifier": "14",
                     "recipient": "5412345000013", "recipientQualifier": "14",
                     "controlNumbers": "edi", "una": true, "group": group}}}]),
    )
}

fn orders_item() -> Value {
    json!({"order": {"messages": [
        {"type": ["ORDERS", "D", "96A", "UN"], "segments": orders_body("PO-1001")},
        {"type": ["ORDERS", "D", "96A", "UN"], "segments": orders_body("PO-1002")}
    ]}})
}

pub(super) fn text(item: &Value, field: &str) -> String {
    item[field]
        .as_str()
        .unwrap_or_else(|| panic!("no text at {field}: {item}"))
        .to_owned()
}

#[tokio::test]
async fn edifact_interchanges_add_up_and_control_numbers_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = SqlQueue::default_url(dir.path());
    let connect = || async {
        let queue = SqlQueue::connect(&url, std::time::Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Arc::new(queue.storage()) as Arc<dyn StorageStore>
    };
    let render = render_edifact(false);
    let storage = connect().await;
    let first = text(&run(&render, storage.clone(), orders_item()).await, "edi");
    let second = text(&run(&render, storage, orders_item()).await, "edi");
    drop(render);
    // A new connection to the same database: the counter went on.
    let third = text(
        &run(&render_edifact(false), connect().await, orders_item()).await,
        "edi",
    );
    assert!(first.starts_with("UNA:+.? 'UNB+UNOC:3+4012345500004:14+5412345000013:14+"));
    assert!(first.ends_with("UNT+11+2'UNZ+2+1'"), "{first}");
    assert!(second.ends_with("UNZ+2+2'"), "{second}");
    assert!(third.ends_with("UNZ+2+3'"), "{third}");
    assert!(first.contains("'UNH+1+ORDERS:D:96A:UN'BGM+220+PO-1001+9'"));

    let parse = pipeline(json!([{"parse": {"format": "edifact", "path": "edi",
        "into": "interchange", "interchange": true}}]));
    let parsed = run(
        &parse,
        Arc::new(MemoryStorage::default()),
        json!({"edi": first}),
    )
    .await;
    let interchange = &parsed["interchange"];
    assert_eq!(interchange["sender"], "4012345500004");
    assert_eq!(interchange["senderQualifier"], "14");
    assert_eq!(interchange["recipient"], "5412345000013");
    assert_eq!(interchange["controlReference"], "1");
    let messages = interchange["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["reference"], "2");
    assert_eq!(messages[1]["type"], json!(["ORDERS", "D", "96A", "UN"]));
    assert_eq!(messages[1]["segments"], orders_body("PO-1002"));
}

#[tokio::test]
async fn groups_are_written_and_checked() {
    let item = run(
        &render_edifact(true),
        Arc::new(MemoryStorage::default()),
        orders_item(),
    )
    .await;
    let edi = text(&item, "edi");
    assert!(
        edi.contains("'UNG+ORDERS+4012345500004:14+5412345000013:14+"),
        "{edi}"
    );
    assert!(edi.ends_with("UNE+2+1'UNZ+1+1'"), "{edi}");
    let parsed = super::checked(
        switchyard_crds::v1alpha1::Format::Edifact,
        &crate::formats::edifact::parse(&edi).unwrap_or_else(|e| panic!("{e}")),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        parsed["groups"],
        json!([{"id": "ORDERS", "reference": "1"}])
    );
    assert_eq!(parsed["messages"][0]["group"], "1");
    let broken = edi.replace("UNE+2+1'", "UNE+3+1'");
    let error = checked_edifact(&broken).err().map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("EDIFACT UNE (segment 25): message count `3`, but group 1 has 2")
    );
}

/// A received ORDERS interchange (one message, twelve segments UNH to UNT).
const RECEIVED: &str = "UNA:+.? 'UNB+UNOC:3+5412345000013:14+4012345500004:14+261202:0930+00000417'\n\
UNH+1+ORDERS:D:96A:UN'\nBGM+220+PO-77812+9'\nDTM+137:20261202:102'\nNAD+BY+5412345000013::9'\n\
NAD+SU+4012345500004::9'\nLIN+1++4000862141404:SRS'\nQTY+21:48'\nPRI+AAA:12.50'\n\
LIN+2++4000862141411:SRS'\nQTY+21:12'\nUNS+S'\nUNT+12+1'\nUNZ+1+00000417'\n";

fn checked_edifact(text: &str) -> Result<Value, crate::transform::TransformError> {
    let parsed = crate::formats::edifact::parse(text)?;
    super::checked(switchyard_crds::v1alpha1::Format::Edifact, &parsed, None)
}

#[test]
fn wrong_counts_and_references_name_the_segment() {
    assert!(checked_edifact(RECEIVED).is_ok());
    let cases = [
        (
            RECEIVED.replace("UNT+12+1'", "UNT+11+1'"),
            "EDIFACT UNT (segment 13): segment count `11`, but message 1 has 12 segments (UNH to UNT)",
        ),
        (
            RECEIVED.replace("UNT+12+1'", "UNT+12+2'"),
            "EDIFACT UNT (segment 13): message reference `2` differs from its UNH's `1`",
        ),
        (
            RECEIVED.replace("UNZ+1+00000417'", "UNZ+2+00000417'"),
            "EDIFACT UNZ (segment 14): interchange control count `2`, but the interchange has 1 messages",
        ),
        (
            RECEIVED.replace("UNZ+1+00000417'", "UNZ+1+00000418'"),
            "EDIFACT UNZ (segment 14): interchange control reference `00000418` differs from UNB's `00000417`",
        ),
        (
            RECEIVED.replace("UNZ+1+00000417'\n", ""),
            "EDIFACT UNZ (segment 13): the interchange has no UNZ",
        ),
        (
            RECEIVED.replace("UNT+12+1'\n", ""),
            "EDIFACT UNZ (segment 13): message 1 (UNH at segment 2) has no UNT before this UNZ",
        ),
    ];
    for (text, expected) in cases {
        let error = checked_edifact(&text).err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some(expected));
    }
}

#[tokio::test]
async fn a_contrl_acknowledges_or_rejects_and_renders_back_to_the_sender() {
    let steps = pipeline(json!([
        {"acknowledge": {"format": "edifact", "path": "edi", "into": "ack"}},
        {"render": {"format": "edifact", "path": "ack", "into": "reply",
                    "envelope": {"controlNumbers": "edi"}}}
    ]));
    let storage: Arc<dyn StorageStore> = Arc::new(MemoryStorage::default());
    let accepted = run(&steps, storage.clone(), json!({"edi": RECEIVED})).await;
    let reply = text(&accepted, "reply");
    assert!(
        reply.starts_with("UNB+UNOC:3+4012345500004:14+5412345000013:14+"),
        "{reply}"
    );
    assert!(
        reply.contains(
            "'UNH+1+CONTRL:D:3:UN'UCI+00000417+5412345000013:14+4012345500004:14+7'UNT+3+1'"
        ),
        "{reply}"
    );
    assert!(checked_edifact(&reply).is_ok());

    let wrong = RECEIVED.replace("UNT+12+1'", "UNT+10+1'");
    let rejected = run(&steps, storage, json!({"edi": wrong})).await;
    let ack = text(&rejected, "reply");
    assert!(
        ack.contains(
            "UCI+00000417+5412345000013:14+4012345500004:14+4'UCM+1+ORDERS:D:96A:UN+4+29+UNT'"
        ),
        "{ack}"
    );
    assert!(ack.ends_with("UNZ+1+2'"), "{ack}");
}
