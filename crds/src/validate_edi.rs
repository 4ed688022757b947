//! Validation of the EDI options: `parse.interchange`, `render.envelope` and the
//! `acknowledge` step only apply to EDIFACT and X12, `parse.dictionary` needs
//! `interchange: true`, and X12's fixed-width header bounds its ids.

use crate::v1alpha1::{AcknowledgeStep, EnvelopeOptions, Format, ParseStep};

/// Whether `format` is one of the EDI syntaxes.
fn edi(format: Format) -> bool {
    matches!(format, Format::Edifact | Format::X12)
}

/// Problems of `parse.interchange` and `parse.dictionary`.
pub(crate) fn parse(step: &ParseStep) -> Vec<(String, String)> {
    if step.interchange && !edi(step.format) {
        return vec![(
            "parse.interchange".into(),
            "applies only to the formats edifact and x12".into(),
        )];
    }
    if step.dictionary.is_some() && !step.interchange {
        return vec![(
            "parse.dictionary".into(),
            "checks the messages of an interchange: set `interchange: true` (edifact or x12)"
                .into(),
        )];
    }
    Vec::new()
}

/// Problems of `render.envelope`.
pub(crate) fn envelope(format: Format, envelope: &EnvelopeOptions) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut problem = |field: &str, message: String| {
        found.push((format!("render.envelope.{field}"), message));
    };
    if !edi(format) {
        problem("", "applies only to the formats edifact and x12".into());
    }
    if envelope.control_numbers.trim().is_empty() {
        problem("controlNumbers", "names a storage; it is empty".into());
    }
    let ids = [
        ("sender", &envelope.sender),
        ("senderQualifier", &envelope.sender_qualifier),
        ("recipient", &envelope.recipient),
        ("recipientQualifier", &envelope.recipient_qualifier),
    ];
    for (field, value) in ids {
        let Some(value) = value else { continue };
        let limit = match (format, field.ends_with("Qualifier")) {
            (Format::X12, true) => 2,
            (Format::X12, false) => 15,
            (_, true) => 4,
            _ => 35,
        };
        if value.trim().is_empty() || value.chars().count() > limit {
            problem(
                field,
                format!("must be 1 to {limit} characters, found `{value}`"),
            );
        }
    }
    if format == Format::X12 && envelope.una {
        problem("una", "is an EDIFACT header; X12 has none".into());
    }
    if format == Format::X12 && envelope.group {
        problem("group", "X12 interchanges always have GS/GE groups".into());
    }
    found
        .into_iter()
        .map(|(field, message)| (field.trim_end_matches('.').to_owned(), message))
        .collect()
}

/// Problems of the `acknowledge` step.
pub(crate) fn acknowledge(step: &AcknowledgeStep) -> Vec<(String, String)> {
    if !edi(step.format) {
        return vec![(
            "acknowledge.format".into(),
            "must be edifact (CONTRL) or x12 (997, 999)".into(),
        )];
    }
    if step.format == Format::Edifact && step.x12_acknowledgement.is_some() {
        return vec![(
            "acknowledge.x12Acknowledgement".into(),
            "applies only to x12; EDIFACT is acknowledged with a CONTRL".into(),
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1alpha1::{DictionaryCheck, X12Acknowledgement};

    fn options() -> EnvelopeOptions {
        EnvelopeOptions {
            sender: Some("SWITCHYARD".into()),
            sender_qualifier: None,
            recipient: Some("A-PARTNER-WITH-A-LONG-NAME".into()),
            recipient_qualifier: Some("ZZZ".into()),
            control_numbers: "edi".into(),
            una: false,
            group: false,
            test: false,
        }
    }

    #[test]
    fn x12_ids_must_fit_the_fixed_width_header() {
        assert_eq!(envelope(Format::Edifact, &options()), []);
        let found = envelope(Format::X12, &options());
        assert_eq!(
            found.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
            [
                "render.envelope.recipient",
                "render.envelope.recipientQualifier"
            ]
        );
        assert!(found[0].1.contains("1 to 15 characters"));
        assert_eq!(envelope(Format::Csv, &options())[0].0, "render.envelope");
        let step = |format, x12_acknowledgement| AcknowledgeStep {
            format,
            path: "edi".into(),
            into: "ack".into(),
            x12_acknowledgement,
            dictionary: None,
        };
        assert_eq!(
            acknowledge(&step(Format::Xml, None))[0].0,
            "acknowledge.format"
        );
        let ack999 = Some(X12Acknowledgement::Implementation);
        assert_eq!(acknowledge(&step(Format::X12, ack999)), []);
        assert_eq!(
            acknowledge(&step(Format::Edifact, ack999))[0].0,
            "acknowledge.x12Acknowledgement"
        );
    }

    #[test]
    fn parse_checks_interchanges_of_edi_formats_only() {
        let step = |format, interchange, dictionary| ParseStep {
            format,
            path: "edi".into(),
            into: None,
            base64_encoding: None,
            csv: None,
            xml: None,
            interchange,
            dictionary,
        };
        let strict = Some(DictionaryCheck::Strict);
        assert_eq!(parse(&step(Format::Edifact, true, strict)), []);
        assert_eq!(
            parse(&step(Format::Csv, true, None))[0].0,
            "parse.interchange"
        );
        let found = parse(&step(Format::X12, false, strict));
        assert_eq!(found[0].0, "parse.dictionary");
        assert!(found[0].1.contains("set `interchange: true`"), "{found:?}");
    }
}
