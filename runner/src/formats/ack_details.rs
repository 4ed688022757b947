//! The detail of a message the bundled dictionary rejects, as acknowledgement
//! segments: EDIFACT CONTRL `UCM` with a `UCS` per segment at fault and a `UCD` per
//! element; X12 997 `AK3`/`AK4` (999 `IK3`/`IK4`). The codes are in
//! [`super::dictionary`]'s faults.

use serde_json::{Value, json};
use switchyard_crds::v1alpha1::X12Acknowledgement;

use super::dictionary::{ElementFault, Reason, Rejection, SegmentProblem};
use super::envelope::segment;

/// At most this many segments at fault are detailed per message, and elements per
/// segment (CONTRL's `UCD` and the 997's `AK4` repeat at most 99 times).
const MAX_DETAILS: usize = 99;

/// How many characters of a bad value `AK404` / `IK404` copy.
const COPIED: usize = 30;

/// The CONTRL segments of a rejected message: `UCM` (action 4), then per segment at
/// fault a `UCS` (its position, and the code unless its elements are at fault) and per
/// element a `UCD` (code, position and component). A message type the dictionary lacks
/// is `UCM` code 14 (value not supported) on UNH's S009.
pub fn edifact(rejection: &Rejection) -> Vec<Value> {
    let mut ucm = vec![
        json!(rejection.reference),
        rejection.kind.clone(),
        json!("4"),
    ];
    let faults = match &rejection.reason {
        Reason::NoDictionary => {
            ucm.extend([json!("14"), json!("UNH"), json!("2")]);
            return vec![segment("UCM", ucm)];
        }
        Reason::Faults(faults) => faults,
    };
    let mut out = vec![segment("UCM", ucm)];
    for fault in faults.iter().take(MAX_DETAILS) {
        let position = json!(fault.position.to_string());
        match (&fault.problem, fault.problem.edifact_code()) {
            (SegmentProblem::Elements(elements), _) => {
                out.push(segment("UCS", vec![position]));
                out.extend(elements.iter().take(MAX_DETAILS).map(|element| {
                    segment(
                        "UCD",
                        vec![json!(element.problem.edifact_code()), place(element)],
                    )
                }));
            }
            (_, code) => out.push(segment("UCS", vec![position, json!(code)])),
        }
    }
    out
}

/// The X12 segments detailing a rejected transaction set: per segment at fault an
/// `AK3` (segment id, position in the set, loop id, code), and after one whose elements
/// are at fault an `AK4` per element (position and component, data element number,
/// code, a copy of the bad value); `IK3`/`IK4` in a 999. None for a set type the
/// dictionary lacks (its `AK5` says 1, not supported).
pub fn x12(rejection: &Rejection, kind: X12Acknowledgement) -> Vec<Value> {
    let (segment_tag, element_tag) = match kind {
        X12Acknowledgement::Functional => ("AK3", "AK4"),
        X12Acknowledgement::Implementation => ("IK3", "IK4"),
    };
    let Reason::Faults(faults) = &rejection.reason else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for fault in faults.iter().take(MAX_DETAILS) {
        out.push(segment(
            segment_tag,
            vec![
                json!(copy(&fault.tag, 3)),
                json!(fault.position.to_string()),
                json!(fault.group.as_deref().unwrap_or("")),
                json!(fault.problem.x12_code()),
            ],
        ));
        let SegmentProblem::Elements(elements) = &fault.problem else {
            continue;
        };
        for element in elements.iter().take(MAX_DETAILS) {
            let mut detail = vec![
                place(element),
                json!(reference(element)),
                json!(element.problem.x12_code()),
            ];
            let bad = copy(&element.value, COPIED);
            if !bad.is_empty() {
                detail.push(json!(bad));
            }
            out.push(segment(element_tag, detail));
        }
    }
    out
}

/// The element's position, with its component's if any (EDIFACT S011, X12 C030).
fn place(element: &ElementFault) -> Value {
    let position = element.position.to_string();
    match element.component {
        Some(component) => json!([position, component.to_string()]),
        None => json!(position),
    }
}

/// The data element reference number (`AK402`): numeric only, so not a composite's id
/// nor an undefined position's.
fn reference(element: &ElementFault) -> &str {
    if !element.id.is_empty() && element.id.chars().all(|c| c.is_ascii_digit()) {
        &element.id
    } else {
        ""
    }
}

/// At most `limit` characters of a received value that the acknowledgement can carry:
/// without the separators it is written with (`*`, `>`, `~`) or control characters. The
/// value is the element's only — never the envelope's (ISA02/ISA04 security
/// information are not checked, so never copied).
fn copy(value: &str, limit: usize) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, '*' | '>' | '~') && !c.is_control())
        .take(limit)
        .collect()
}

#[cfg(test)]
#[path = "ack_details_tests.rs"]
mod tests;
