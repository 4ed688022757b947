//! X12 interchanges through the steps: ISA at its fixed width, GS/GE and ST/SE counts,
//! a 997 back.

use std::sync::Arc;

use serde_json::{Value, json};

use super::tests::{pipeline, run, text};
use crate::storage::{MemoryStorage, StorageStore};

/// A received 850 purchase order (ISA at its fixed width, one set of nine segments).
fn received() -> String {
    [
        "ISA*00*          *00*          *ZZ*BUYERCO        *ZZ*SWITCHYARD     *261202*0930*U*00401*000004711*0*P*>~",
        "GS*PO*BUYERCO*SWITCHYARD*20261202*0930*4711*X*004010~",
        "ST*850*0001~",
        "BEG*00*SA*PO-88231**20261202~",
        "N1*ST*Buyer Co Warehouse 3*92*WH3~",
        "PO1*1*48*EA*12.50**VP*SKU-1404*UP*400086214140~",
        "PO1*2*12*EA*7.95**VP*SKU-1411~",
        "CTT*2~",
        "SE*7*0001~",
        "GE*1*4711~",
        "IEA*1*000004711~",
    ]
    .join("\n")
}

fn checked_x12(text: &str) -> Result<Value, crate::transform::TransformError> {
    let parsed = crate::formats::x12::parse(text)?;
    super::checked(switchyard_crds::v1alpha1::Format::X12, &parsed, None)
}

#[tokio::test]
async fn x12_interchanges_are_written_at_fixed_width_and_checked() {
    let render = pipeline(
        json!([{"render": {"format": "x12", "path": "po", "into": "edi",
        "envelope": {"sender": "SWITCHYARD", "recipient": "SUPPLIERINC", "controlNumbers": "edi",
                     "test": true}}}]),
    );
    let storage: Arc<dyn StorageStore> = Arc::new(MemoryStorage::default());
    let body = json!([
        {"tag": "BEG", "elements": ["00", "SA", "PO-1", "", "20261202"]},
        {"tag": "PO1", "elements": ["1", "2", "EA", "9.5", "", "VP", "A1"]},
        {"tag": "CTT", "elements": ["1"]}
    ]);
    let item = json!({"po": [{"type": "850", "segments": body}]});
    run(&render, storage.clone(), item.clone()).await;
    let edi = text(&run(&render, storage, item).await, "edi");
    let isa = edi.split('~').next().unwrap_or_default();
    assert_eq!(isa.len(), 105, "{isa}");
    assert!(
        isa.contains("*ZZ*SWITCHYARD     *ZZ*SUPPLIERINC    *"),
        "{isa}"
    );
    assert!(isa.ends_with("*U*00401*000000002*0*T*>"), "{isa}");
    assert!(
        edi.contains("~GS*PO*SWITCHYARD*SUPPLIERINC*") && edi.contains("*2*X*004010~ST*850*0001~"),
        "{edi}"
    );
    assert!(
        edi.ends_with("CTT*1~SE*5*0001~GE*1*2~IEA*1*000000002~"),
        "{edi}"
    );
    let parsed = checked_x12(&edi).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed["messages"][0]["segments"], body);
    assert_eq!(parsed["controlReference"], "000000002");
    assert_eq!(parsed["test"], true);
}

#[test]
fn x12_mismatches_name_the_segment() {
    let received = received();
    assert!(checked_x12(&received).is_ok());
    let cases = [
        (
            received.replace("SE*7*0001~", "SE*8*0001~"),
            "X12 SE (segment 9): segment count `8`, but transaction set 0001 has 7 segments (ST to SE)",
        ),
        (
            received.replace("GE*1*4711~", "GE*1*4712~"),
            "X12 GE (segment 10): group control number `4712` differs from its GS's `4711`",
        ),
        (
            received.replace("IEA*1*000004711~", "IEA*1*000004712~"),
            "X12 IEA (segment 11): interchange control number `000004712` differs from ISA13 `000004711`",
        ),
    ];
    for (text, expected) in cases {
        let error = checked_x12(&text).err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some(expected));
    }
}

#[tokio::test]
async fn a_999_answers_with_ik5_in_place_of_ak5() {
    let steps = pipeline(json!([
        {"acknowledge": {"format": "x12", "path": "edi", "into": "ack", "x12Acknowledgement": "999"}},
        {"render": {"format": "x12", "path": "ack", "into": "reply",
                    "envelope": {"controlNumbers": "edi"}}}
    ]));
    let storage: Arc<dyn StorageStore> = Arc::new(MemoryStorage::default());
    let reply = text(
        &run(&steps, storage.clone(), json!({"edi": received()})).await,
        "reply",
    );
    assert!(
        reply.contains("~GS*FA*SWITCHYARD*BUYERCO*")
            && reply.contains("~ST*999*0001~AK1*PO*4711~AK2*850*0001~IK5*A~AK9*A*1*1*1~SE*6*0001~"),
        "{reply}"
    );
    assert!(checked_x12(&reply).is_ok());
    let wrong = received().replace("ST*850*0001~", "ST*850*0002~");
    let reply = text(&run(&steps, storage, json!({"edi": wrong})).await, "reply");
    assert!(
        reply.contains("~AK2*850*0002~IK5*R*3~AK9*R*1*1*0~"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_997_accepts_or_rejects_the_transaction_set() {
    let steps = pipeline(json!([
        {"acknowledge": {"format": "x12", "path": "edi", "into": "ack"}},
        {"render": {"format": "x12", "path": "ack", "into": "reply",
                    "envelope": {"controlNumbers": "edi"}}}
    ]));
    let storage: Arc<dyn StorageStore> = Arc::new(MemoryStorage::default());
    let accepted = run(&steps, storage.clone(), json!({"edi": received()})).await;
    let reply = text(&accepted, "reply");
    assert!(
        reply.contains("*ZZ*SWITCHYARD     *ZZ*BUYERCO        *"),
        "{reply}"
    );
    assert!(
        reply.contains("~GS*FA*SWITCHYARD*BUYERCO*")
            && reply.contains("~ST*997*0001~AK1*PO*4711~AK2*850*0001~AK5*A~AK9*A*1*1*1~SE*6*0001~"),
        "{reply}"
    );
    assert!(checked_x12(&reply).is_ok());

    let wrong = received().replace("SE*7*0001~", "SE*6*0001~");
    let acknowledge = pipeline(json!([
        {"acknowledge": {"format": "x12", "path": "edi", "into": "ack"}}
    ]));
    let ack = run(&acknowledge, storage.clone(), json!({"edi": wrong.clone()})).await;
    assert_eq!(ack["ack"]["accepted"], false);
    assert_eq!(ack["ack"]["sender"], "SWITCHYARD");
    assert_eq!(ack["ack"]["recipient"], "BUYERCO");
    assert_eq!(
        ack["ack"]["reason"],
        "X12 SE (segment 9): segment count `6`, but transaction set 0001 has 7 segments (ST to SE)"
    );
    let rejected = run(&steps, storage, json!({"edi": wrong})).await;
    let reply = text(&rejected, "reply");
    assert!(
        reply.contains("~AK1*PO*4711~AK2*850*0001~AK5*R*4~AK9*R*1*1*0~"),
        "{reply}"
    );
}
