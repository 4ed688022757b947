//! Acknowledgements of received interchanges: CONTRL (EDIFACT) and 997 or 999 (X12), as
//! messages ready for `render` with an envelope, sent back to the interchange's sender.

use serde_json::{Map, Value, json};

use switchyard_crds::v1alpha1::X12Acknowledgement;

use super::envelope::{EnvelopeError, Interchange, Party, Problem, segment};

/// The acknowledgement object: `{accepted, reason, sender, recipient, messages}`, the
/// parties swapped (we answer the sender).
fn answer(interchange: &Interchange, error: Option<&EnvelopeError>, message: Value) -> Value {
    let mut out = Map::new();
    out.insert("accepted".into(), json!(error.is_none()));
    out.insert(
        "reason".into(),
        error.map_or(Value::Null, |e| json!(e.to_string())),
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
/// (rejected, with the syntax error code and the service segment at fault), and a
/// `UCM` for the message the fault is in.
pub fn contrl(interchange: &Interchange, error: Option<&EnvelopeError>) -> Value {
    let mut uci = vec![
        json!(interchange.control),
        party_id(&interchange.sender),
        party_id(&interchange.recipient),
    ];
    let mut segments = Vec::new();
    match error {
        None => uci.push(json!("7")),
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
/// `AK1`, an `AK2`/`AK5` per transaction set (accepted, or rejected with the code), and
/// `AK9` for the group (accepted, partially accepted or rejected).
pub fn x997(interchange: &Interchange, error: Option<&EnvelopeError>) -> Value {
    x12_ack(interchange, error, X12Acknowledgement::Functional)
}

/// A 999 implementation acknowledgement: the 997's structure with `IK5` (the
/// implementation transaction set response, same codes) in place of `AK5`.
pub fn x999(interchange: &Interchange, error: Option<&EnvelopeError>) -> Value {
    x12_ack(interchange, error, X12Acknowledgement::Implementation)
}

/// The 997 or the 999.
pub fn x12_ack(
    interchange: &Interchange,
    error: Option<&EnvelopeError>,
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
        |m: &&super::envelope::Message| m.group.as_deref() == group.map(|g| g.reference.as_str());
    let accepted = interchange.messages.iter().filter(in_group).count();
    for message in interchange.messages.iter().filter(in_group) {
        segments.push(segment(
            "AK2",
            vec![message.kind.clone(), json!(message.reference)],
        ));
        segments.push(segment(response, vec![json!("A")]));
    }
    let mut received = accepted;
    let mut ak9 = Vec::new();
    match error {
        None => ak9.push(json!("A")),
        Some(error) => match &error.within {
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
                ak9.push(json!(if accepted > 0 { "P" } else { "R" }));
            }
            None => ak9.push(json!("R")),
        },
    }
    ak9.extend([json!(received), json!(received), json!(accepted)]);
    if let Some(error) = error.filter(|e| e.within.is_none()) {
        ak9.push(json!(x12_code(error.problem, false)));
    }
    segments.push(segment("AK9", ak9));
    answer(
        interchange,
        error,
        json!({"type": set_type, "segments": segments}),
    )
}
