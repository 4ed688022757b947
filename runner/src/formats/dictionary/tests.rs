//! The bundled dictionary against realistic interchanges (runner/tests/fixtures/edi):
//! they round-trip and conform; each kind of fault is found and named.

use serde_json::Value;

use super::samples::{fixture, interchange};
use super::{ElementProblem, Reason, SegmentProblem};
use super::{Rejections, Standard, bundled, check};
use crate::formats::{edifact, x12};

fn rejections(standard: Standard, text: &str) -> Rejections {
    check(standard, &interchange(standard, text)).unwrap_or_else(|e| panic!("{e}"))
}

const EDIFACT: [&str; 3] = ["orders_d96a.edi", "desadv_d96a.edi", "invoic_d96a.edi"];
const X12: [&str; 3] = ["x12_850.x12", "x12_856.x12", "x12_810.x12"];

#[test]
fn the_bundled_dictionaries_hold_the_six_messages() {
    let edifact = bundled(Standard::Edifact).unwrap_or_else(|e| panic!("{e}"));
    let x12 = bundled(Standard::X12).unwrap_or_else(|e| panic!("{e}"));
    for name in ["ORDERS", "DESADV", "INVOIC"] {
        assert!(edifact.messages.contains_key(name), "{name}");
    }
    for name in ["850", "856", "810"] {
        assert!(x12.messages.contains_key(name), "{name}");
    }
    assert_eq!(
        (edifact.version.as_str(), x12.version.as_str()),
        ("D96A", "004010")
    );
}

#[test]
fn the_sample_interchanges_round_trip_and_conform() {
    for name in EDIFACT {
        let text = fixture(name);
        assert_eq!(
            rejections(Standard::Edifact, &text),
            Rejections(vec![]),
            "{name}"
        );
        let parsed = edifact::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let written = edifact::render(&parsed).unwrap_or_else(|e| panic!("{e}"));
        let source = text.replace('\n', "");
        assert_eq!(written, source.trim_start_matches("UNA:+.? '"), "{name}");
    }
    for name in X12 {
        let text = fixture(name);
        assert_eq!(
            rejections(Standard::X12, &text),
            Rejections(vec![]),
            "{name}"
        );
        let parsed = x12::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let written = x12::render(&parsed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, text.replace('\n', ""), "{name}");
    }
}

/// The one fault of one message, as (position, tag, group, problem).
fn only_fault(found: &Rejections) -> (usize, String, Option<String>, SegmentProblem) {
    let [rejection] = &found.0[..] else {
        panic!("expected one rejected message: {found:?}")
    };
    let Reason::Faults(faults) = &rejection.reason else {
        panic!("{rejection:?}")
    };
    let [fault] = &faults[..] else {
        panic!("expected one fault: {faults:?}")
    };
    (
        fault.position,
        fault.tag.clone(),
        fault.group.clone(),
        fault.problem.clone(),
    )
}

#[test]
fn edifact_faults_are_named_by_segment_position_and_element() {
    let orders = fixture("orders_d96a.edi");
    // Missing mandatory segment: BGM, expected where DTM (position 2) is.
    let missing = orders
        .replace("BGM+220+PO-77812+9'\n", "")
        .replace("UNT+24+1'", "UNT+23+1'");
    let found = rejections(Standard::Edifact, &missing);
    assert_eq!(
        only_fault(&found),
        (2, "BGM".into(), None, SegmentProblem::Missing)
    );
    assert_eq!(
        found.to_string(),
        "EDIFACT message 1 (ORDERS): segment 2 (BGM): a mandatory segment is missing here"
    );
    // Element too long: BGM 1004 is an..35.
    let long = orders.replace("PO-77812+9'", &format!("PO-{}+9'", "7".repeat(33)));
    let found = rejections(Standard::Edifact, &long);
    let (position, tag, _, problem) = only_fault(&found);
    assert_eq!((position, tag.as_str()), (2, "BGM"));
    let SegmentProblem::Elements(elements) = problem else {
        panic!("{problem:?}")
    };
    assert_eq!(
        (
            elements[0].position,
            elements[0].component,
            elements[0].id.as_str()
        ),
        (2, None, "1004")
    );
    assert_eq!(elements[0].problem, ElementProblem::TooLong { max: 35 });
    assert!(
        found
            .to_string()
            .contains("segment 2 (BGM): element 2 (1004) `PO-777"),
        "{found}"
    );
    // Mandatory component missing: QTY 6060 in the LIN group.
    let found = rejections(
        Standard::Edifact,
        &orders.replace("QTY+21:12:PCE'", "QTY+21::PCE'"),
    );
    assert!(
        found.to_string().contains(
            "segment 19 (QTY) in SG25: element 1 component 2 (6060) is mandatory and empty"
        ),
        "{found}"
    );
    // Unknown segment; a segment out of its place.
    let unknown = orders.replace("FTX+DEL", "XYZ+DEL");
    assert_eq!(
        only_fault(&rejections(Standard::Edifact, &unknown)).3,
        SegmentProblem::Unrecognized
    );
    let late = orders.replace("UNS+S'\nMOA+79:695.40'", "MOA+79:695.40'\nUNS+S'");
    assert!(
        rejections(Standard::Edifact, &late)
            .to_string()
            .contains("is out of sequence"),
    );
    // Too many repetitions: UNS is once.
    let twice = orders
        .replace("UNS+S'", "UNS+S'\nUNS+S'")
        .replace("UNT+24+1'", "UNT+25+1'");
    assert_eq!(
        only_fault(&rejections(Standard::Edifact, &twice)),
        (
            22,
            "UNS".into(),
            None,
            SegmentProblem::TooManyRepetitions { max: 1 }
        )
    );
    // Another directory version is not in the bundled dictionary.
    let d01b = orders.replace("ORDERS:D:96A", "ORDERS:D:01B");
    let found = rejections(Standard::Edifact, &d01b);
    assert_eq!(found.0[0].reason, Reason::NoDictionary);
    assert!(found.to_string().contains("has no ORDERS:D:01B"), "{found}");
}

#[test]
fn x12_faults_are_named_by_segment_position_loop_and_element() {
    let po = fixture("x12_850.x12");
    // The PO1 loop is mandatory.
    let no_lines = po
        .replace("PO1*1*48*EA*12.50**VP*SKU-1404*UP*400086214140~\nPID*F****Widget, blue, 40 mm~\nPO1*2*12*EA*7.95**VP*SKU-1411~\n", "")
        .replace("SE*14*0001~", "SE*11*0001~");
    assert_eq!(
        only_fault(&rejections(Standard::X12, &no_lines)),
        (
            10,
            "PO1".into(),
            Some("PO1".into()),
            SegmentProblem::Missing
        )
    );
    // The CTT loop occurs once.
    let two_totals = po
        .replace("CTT*2*60~", "CTT*2*60~\nCTT*2*60~")
        .replace("SE*14*0001~", "SE*15*0001~");
    assert_eq!(
        only_fault(&rejections(Standard::X12, &two_totals)),
        (
            14,
            "CTT".into(),
            Some("CTT".into()),
            SegmentProblem::TooManyLoops { max: 1 }
        )
    );
    // BEG05 is a date; PO102 a number; N4 has six elements.
    let bad = po
        .replace("PO-88231**20261202", "PO-88231**20261340")
        .replace("PO1*2*12*", "PO1*2*1x*")
        .replace("43215*US~", "43215*US***extra~");
    let found = rejections(Standard::X12, &bad);
    let Reason::Faults(faults) = &found.0[0].reason else {
        panic!("{found:?}")
    };
    let codes: Vec<(usize, &str, String)> = faults
        .iter()
        .flat_map(|f| match &f.problem {
            SegmentProblem::Elements(e) => e
                .iter()
                .map(|e| {
                    (
                        f.position,
                        f.tag.as_str(),
                        format!("{}:{}", e.position, e.problem.x12_code()),
                    )
                })
                .collect(),
            other => vec![(f.position, f.tag.as_str(), other.x12_code().to_owned())],
        })
        .collect();
    assert_eq!(
        codes,
        [
            (2, "BEG", "5:8".to_owned()),
            (9, "N4", "7:3".to_owned()),
            (12, "PO1", "2:6".to_owned())
        ]
    );
    // An unknown segment, a segment of another set.
    let odd = po
        .replace("CUR*BY*USD~", "ZZZ*BY*USD~")
        .replace("REF*DP*038~", "BSN*00*X*20261202*1200~");
    let found = rejections(Standard::X12, &odd);
    let Reason::Faults(faults) = &found.0[0].reason else {
        panic!("{found:?}")
    };
    let problems: Vec<&SegmentProblem> = faults.iter().map(|f| &f.problem).collect();
    assert_eq!(
        problems,
        [&SegmentProblem::Unrecognized, &SegmentProblem::NotInMessage]
    );
    let _: &Value = &found.0[0].kind;
}
