//! Acknowledgements of the sample interchanges (runner/tests/fixtures/edi) checked
//! against the bundled dictionary: conforming messages are accepted as before; each
//! kind of fault gets its standard detail segments.

use serde_json::{Value, json};
use switchyard_crds::v1alpha1::X12Acknowledgement;

use crate::formats::dictionary::samples::{fixture, interchange};
use crate::formats::dictionary::{Standard, check};
use crate::formats::{acks, edifact, x12};

/// The acknowledgement of `text` (envelopes and dictionary checked): the answer, and
/// its message's segments as written (without envelope).
fn acknowledge(standard: Standard, text: &str, kind: X12Acknowledgement) -> (Value, String) {
    let interchange = interchange(standard, text);
    let rejections = check(standard, &interchange).unwrap_or_else(|e| panic!("{e}"));
    let answer = match standard {
        Standard::Edifact => acks::contrl(&interchange, None, &rejections),
        Standard::X12 => acks::x12_ack(&interchange, None, &rejections, kind),
    };
    let body = json!({"segments": answer["messages"][0]["segments"]});
    let written = match standard {
        Standard::Edifact => edifact::render(&body),
        Standard::X12 => x12::render(&body),
    }
    .unwrap_or_else(|e| panic!("{e}"));
    (answer, written)
}

fn contrl(text: &str) -> String {
    acknowledge(Standard::Edifact, text, X12Acknowledgement::Functional).1
}

fn x997(text: &str) -> String {
    acknowledge(Standard::X12, text, X12Acknowledgement::Functional).1
}

const UCI: &str = "UCI+00000417+5412345000013:14+4012345500004:14";

#[test]
fn a_conforming_orders_is_acknowledged_and_faults_get_ucm_ucs_ucd() {
    let orders = fixture("orders_d96a.edi");
    let (answer, written) = acknowledge(Standard::Edifact, &orders, X12Acknowledgement::Functional);
    assert_eq!(written, format!("{UCI}+7'"));
    assert_eq!(
        (&answer["accepted"], &answer["reason"]),
        (&json!(true), &Value::Null)
    );

    // A mandatory segment missing: BGM, expected at position 2.
    let no_bgm = orders
        .replace("BGM+220+PO-77812+9'\n", "")
        .replace("UNT+24+1'", "UNT+23+1'");
    let ucm = "UCM+1+ORDERS:D:96A:UN:EAN008+4";
    assert_eq!(contrl(&no_bgm), format!("{UCI}+4'{ucm}'UCS+2+13'"));
    // An element too long: BGM 1004 is an..35.
    let long = orders.replace("PO-77812+9'", &format!("PO-{}+9'", "7".repeat(33)));
    assert_eq!(contrl(&long), format!("{UCI}+4'{ucm}'UCS+2'UCD+39+2'"));
    // Too many repetitions: UNS occurs once.
    let twice = orders
        .replace("UNS+S'", "UNS+S'\nUNS+S'")
        .replace("UNT+24+1'", "UNT+25+1'");
    assert_eq!(contrl(&twice), format!("{UCI}+4'{ucm}'UCS+22+35'"));
    // A letter in a numeric component: QTY 6060 (n..15) of the first line.
    let alpha = orders.replace("QTY+21:48:PCE'", "QTY+21:4B:PCE'");
    assert_eq!(contrl(&alpha), format!("{UCI}+4'{ucm}'UCS+16'UCD+37+1:2'"));
    // A mandatory component empty, and a digit in an alphabetic element (UNS 0081 a1).
    let both = orders
        .replace("QTY+21:12:PCE'", "QTY+21::PCE'")
        .replace("UNS+S'", "UNS+5'");
    assert_eq!(
        contrl(&both),
        format!("{UCI}+4'{ucm}'UCS+19'UCD+13+1:2'UCS+21'UCD+37+1'")
    );
    // A tag the directory lacks: not supported in this position.
    let unknown = orders.replace("FTX+DEL", "XYZ+DEL");
    assert_eq!(contrl(&unknown), format!("{UCI}+4'{ucm}'UCS+5+15'"));
    // A directory version the dictionary lacks: value not supported in UNH's S009.
    let d01b = orders.replace("ORDERS:D:96A", "ORDERS:D:01B");
    let (answer, written) = acknowledge(Standard::Edifact, &d01b, X12Acknowledgement::Functional);
    assert_eq!(
        written,
        format!("{UCI}+4'UCM+1+ORDERS:D:01B:UN:EAN008+4+14+UNH+2'")
    );
    assert_eq!(answer["accepted"], false);
    assert!(
        answer["reason"]
            .as_str()
            .is_some_and(|r| r.contains("the bundled dictionary has no ORDERS:D:01B")),
        "{answer}"
    );
}

#[test]
fn one_faulty_message_of_two_is_rejected_alone() {
    let orders = fixture("orders_d96a.edi");
    let start = orders.find("UNH+").unwrap_or_default();
    let end = orders.find("UNZ+").unwrap_or_default();
    let second = orders[start..end]
        .replace("UNH+1+", "UNH+2+")
        .replace("UNT+24+1'", "UNT+24+2'")
        .replace("QTY+21:48:PCE'", "QTY+21:4B:PCE'");
    let two = format!("{}{second}UNZ+2+00000417'\n", &orders[..end]);
    let ucm = "UCM+2+ORDERS:D:96A:UN:EAN008+4";
    assert_eq!(contrl(&two), format!("{UCI}+7'{ucm}'UCS+16'UCD+37+1:2'"));
}

const AK1: &str = "AK1*PO*4711~AK2*850*0001~";

#[test]
fn a_conforming_850_is_accepted_and_faults_get_ak3_ak4() {
    let po = fixture("x12_850.x12");
    assert_eq!(x997(&po), format!("{AK1}AK5*A~AK9*A*1*1*1~"));
    let rejected = |detail: &str| format!("{AK1}{detail}AK5*R*5~AK9*R*1*1*0~");

    // A mandatory segment missing: BEG, expected at position 2.
    let no_beg = po
        .replace("BEG*00*SA*PO-88231**20261202~\n", "")
        .replace("SE*14*0001~", "SE*13*0001~");
    assert_eq!(x997(&no_beg), rejected("AK3*BEG*2**3~"));
    // An element too long: BEG03 (324) is AN 1/22; the copy is cut to 30 characters.
    let number = format!("PO-{}", "8".repeat(37));
    let long = po.replace("PO-88231", &number);
    let copy = &number[..30];
    assert_eq!(
        x997(&long),
        rejected(&format!("AK3*BEG*2**8~AK4*3*324*5*{copy}~"))
    );
    // Too many repetitions: CUR occurs once in the heading.
    let twice = po
        .replace("CUR*BY*USD~", "CUR*BY*USD~\nCUR*BY*USD~")
        .replace("SE*14*0001~", "SE*15*0001~");
    assert_eq!(x997(&twice), rejected("AK3*CUR*4**5~"));
    // A letter in a number: PO102 (330, R) of the second line, in the PO1 loop.
    let alpha = po.replace("PO1*2*12*", "PO1*2*1B*");
    assert_eq!(x997(&alpha), rejected("AK3*PO1*12*PO1*8~AK4*2*330*6*1B~"));
    // A mandatory element missing (N1 01, 98) and one too short (N4 02, 156: 2/2).
    let missing = po
        .replace("N1*ST*", "N1**")
        .replace("*OH*43215", "*O*43215");
    assert_eq!(
        x997(&missing),
        rejected("AK3*N1*7*N1*8~AK4*1*98*1~AK3*N4*9*N1*8~AK4*2*156*4*O~")
    );
    // Not a date (BEG05, DT), and a tag the directory lacks.
    let odd = po
        .replace("**20261202~", "**20261340~")
        .replace("CUR*BY*USD~", "ZZZ*BY*USD~");
    assert_eq!(
        x997(&odd),
        rejected("AK3*BEG*2**8~AK4*5*373*8*20261340~AK3*ZZZ*3**1~")
    );
    // The mandatory PO1 loop missing.
    let no_lines = po
        .replace("PO1*1*48*EA*12.50**VP*SKU-1404*UP*400086214140~\nPID*F****Widget, blue, 40 mm~\nPO1*2*12*EA*7.95**VP*SKU-1411~\n", "")
        .replace("SE*14*0001~", "SE*11*0001~");
    assert_eq!(x997(&no_lines), rejected("AK3*PO1*10*PO1*3~"));
    // A set the dictionary lacks: AK5 code 1, not supported.
    let other = po.replace("ST*850*0001~", "ST*855*0001~");
    assert_eq!(
        x997(&other),
        "AK1*PO*4711~AK2*855*0001~AK5*R*1~AK9*R*1*1*0~"
    );
}

#[test]
fn a_999_details_with_ik3_ik4_and_one_faulty_set_of_two_is_partial() {
    let po = fixture("x12_850.x12");
    let alpha = po.replace("PO1*2*12*", "PO1*2*1B*");
    let (answer, written) = acknowledge(Standard::X12, &alpha, X12Acknowledgement::Implementation);
    assert_eq!(
        written,
        format!("{AK1}IK3*PO1*12*PO1*8~IK4*2*330*6*1B~IK5*R*5~AK9*R*1*1*0~")
    );
    assert_eq!(answer["messages"][0]["type"], "999");
    // A separator of the reply in the bad value is not copied.
    let odd = po.replace("PO1*2*12*", "PO1*2*1:2*");
    let x12_odd = odd.replace("*P*>~", "*P*^~").replace("1:2", "1>2");
    assert!(
        x997(&x12_odd).contains("~AK4*2*330*6*12~"),
        "{}",
        x997(&x12_odd)
    );

    let start = po.find("ST*").unwrap_or_default();
    let end = po.find("GE*").unwrap_or_default();
    let second = po[start..end]
        .replace("ST*850*0001~", "ST*850*0002~")
        .replace("SE*14*0001~", "SE*14*0002~")
        .replace("PO1*2*12*", "PO1*2*1B*");
    let two = format!("{}{second}GE*2*4711~\nIEA*1*000004711~\n", &po[..end]);
    assert_eq!(
        x997(&two),
        "AK1*PO*4711~AK2*850*0001~AK5*A~AK2*850*0002~AK3*PO1*12*PO1*8~AK4*2*330*6*1B~AK5*R*5~AK9*P*2*2*1~"
    );
}
