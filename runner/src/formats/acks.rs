//! Acknowledgements of received interchanges: CONTRL (EDIFACT) and 997 or 999 (X12), as
//! messages ready for `render` with an envelope, sent back to the interchange's sender.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use switchyard_crds::v1alpha1::X12Acknowledgement;

use super::ack_details;
use super::dictionary::{Rejection, Rejections};
use super::envelope::{EnvelopeError, Interchange, Message, Party, Problem, segment};

/// The acknowledgement object: `{accepted, reason, sender, recipient, messages}`, the
/// parties swapped (we answer the sender). `accepted` is true when the envelopes add up
/// and no message breaks the dictionary; `reason` names what does not.
fn answer(
    interchange: &Interchange,
    error: Option<&EnvelopeError>,
    rejections: &Rejections,
    message: Value,
) -> Value {
    let mut out = Map::new();
    let mut reasons: Vec<String> = rejections.0.iter().map(ToString::to_string).collect();
    if let Some(error) = error {
        reasons.push(error.to_string());
    }
    out.insert("accepted".into(), json!(reasons.is_empty()));
    out.insert(
        "reason".into(),
        if reasons.is_empty() {
            Value::Null
        } else {
            json!(reasons.join("; "))
        },
    );
    let mut party = |name: &str, party: &Party| {
        out.insert(name.into(), json!(party.id));
        if let Some(qualifier) = &party.qualifier {
            out.insert(format!("{name}Qualifier"), json!(qualifier));
        }
    };
    party("sender", &interchange.recipient);
    party("recipient", &interchange.sender);
    out.insert("messages".into(), json!([message]));
    Value::Object(out)
}

fn party_id(party: &Party) -> Value {
    match &party.qualifier {
        Some(qualifier) => json!([party.id, qualifier]),
        None => json!(party.id),
    }
}

/// ISO 9735 syntax error code of a problem.
fn syntax_error(problem: Problem) -> &'static str {
    match problem {
        Problem::Missing => "13",
        Problem::ReferenceMismatch => "28",
        Problem::CountMismatch => "29",
        Problem::Unexpected => "15",
    }
}

/// A CONTRL (D:3) for an EDIFACT interchange: `UCI` action 7 (acknowledged) or 4
/// (rejected, with the syntax error code and the service segment at fault), a `UCM`
/// for the message an envelope fault is in, and per message the dictionary rejects a
/// `UCM` with its `UCS`/`UCD` detail. The `UCI` says 7 while some message conforms
/// (the others rejected by their `UCM`), 4 when none does.
pub fn contrl(
    interchange: &Interchange,
    error: Option<&EnvelopeError>,
    rejections: &Rejections,
) -> Value {
    let mut uci = vec![
        json!(interchange.control),
        party_id(&interchange.sender),
        party_id(&interchange.recipient),
    ];
    let mut segments: Vec<Value> = rejections.0.iter().flat_map(ack_details::edifact).collect();
    match error {
        None => {
            let none_conform =
                !rejections.0.is_empty() && rejections.0.len() >= interchange.messages.len();
            uci.push(json!(if none_conform { "4" } else { "7" }));
        }
        Some(error) => {
            let code = syntax_error(error.problem);
            match &error.within {
                Some(within) => {
                    // The interchange is fine; one of its messages is not.
                    uci.push(json!("4"));
                    segments.push(segment(
                        "UCM",
                        vec![
                            json!(within.reference),
                            within.kind.clone(),
                            json!("4"),
                            json!(code),
                            json!(error.segment),
                        ],
                    ));
                }
                None => uci.extend([json!("4"), json!(code), json!(error.segment)]),
            }
        }
    }
    segments.insert(0, segment("UCI", uci));
    answer(
        interchange,
        error,
        rejections,
        json!({"type": ["CONTRL", "D", "3", "UN"], "segments": segments}),
    )
}

/// AK5 / AK9 codes of a problem in a transaction set or group.
fn x12_code(problem: Problem, in_set: bool) -> &'static str {
    match (problem, in_set) {
        (Problem::Missing, _) => "2",
        (Problem::ReferenceMismatch, _) => "3",
        (Problem::CountMismatch, _) => "4",
        (Problem::Unexpected, true) => "5",
        (Problem::Unexpected, false) => "1",
    }
}

/// A 997 functional acknowledgement for the (first) group of an X12 interchange:
/// `AK1`, an `AK2`/`AK5` per transaction set (accepted, or rejected with the code and,
/// for a set the dictionary rejects, its `AK3`/`AK4` detail), and `AK9` for the group
/// (accepted, partially accepted or rejected).
pub fn x997(
    interchange: &Interchange,
    error: Option<&EnvelopeError>,
    rejections: &Rejections,
) -> Value {
    x12_ack(
        interchange,
        error,
        rejections,
        X12Acknowledgement::Functional,
    )
}

/// A 999 implementation acknowledgement: the 997's structure with `IK3`/`IK4`/`IK5`
/// (the implementation segment, element and transaction set responses, same codes) in
/// place of `AK3`/`AK4`/`AK5`.
pub fn x999(
    interchange: &Interchange,
    error: Option<&EnvelopeError>,
    rejections: &Rejections,
) -> Value {
    x12_ack(
        interchange,
        error,
        rejections,
        X12Acknowledgement::Implementation,
    )
}

/// The 997 or the 999.
pub fn x12_ack(
    interchange: &Interchange,
    error: Option<&EnvelopeError>,
    rejections: &Rejections,
    kind: X12Acknowledgement,
) -> Value {
    let (set_type, response) = match kind {
        X12Acknowledgement::Functional => ("997", "AK5"),
        X12Acknowledgement::Implementation => ("999", "IK5"),
    };
    let group = interchange.groups.first();
    let mut segments = vec![segment(
        "AK1",
        vec![
            json!(group.map_or("", |g| g.id.as_str())),
            json!(group.map_or("", |g| g.reference.as_str())),
        ],
    )];
    let in_group =
        |(_, m): &(usize, &Message)| m.group.as_deref() == group.map(|g| g.reference.as_str());
    let rejected: HashMap<usize, &Rejection> = rejections.0.iter().map(|r| (r.index, r)).collect();
    let (mut received, mut accepted) = (0, 0);
    for (index, message) in interchange.messages.iter().enumerate().filter(in_group) {
        received += 1;
        segments.push(segment(
            "AK2",
            vec![message.kind.clone(), json!(message.reference)],
        ));
        match rejected.get(&index) {
            None => {
                accepted += 1;
                segments.push(segment(response, vec![json!("A")]));
            }
            Some(rejection) => {
                segments.extend(ack_details::x12(rejection, kind));
                segments.push(segment(
                    response,
                    vec![json!("R"), json!(rejection.reason.x12_code())],
                ));
            }
        }
    }
    let mut group_rejected = false;
    if let Some(error) = error {
        match &error.within {
            Some(within) => {
                received += 1;
                segments.push(segment(
                    "AK2",
                    vec![within.kind.clone(), json!(within.reference)],
                ));
                segments.push(segment(
                    response,
                    vec![json!("R"), json!(x12_code(error.problem, true))],
                ));
            }
            None => group_rejected = true,
        }
    }
    let code = if group_rejected {
        "R"
    } else if accepted == received {
        "A"
    } else if accepted > 0 {
        "P"
    } else {
        "R"
    };
    let mut ak9 = vec![
        json!(code),
        json!(received),
        json!(received),
        json!(accepted),
    ];
    if let Some(error) = error.filter(|e| e.within.is_none()) {
        ak9.push(json!(x12_code(error.problem, false)));
    }
    segments.push(segment("AK9", ak9));
    answer(
        interchange,
        error,
        rejections,
        json!({"type": set_type, "segments": segments}),
    )
}
