//! ANSI X12 ↔ JSON. The interchange header (`ISA`, fixed width) defines the
//! separators: element (4th character), component (ISA16) and segment terminator (the
//! character after it). JSON as for EDIFACT: `{"segments": [{"tag", "elements"}]}`.
//! Writing uses `*` between elements, ISA16 (or `:`) between components and `~` after
//! segments; X12 has no escape character, so a value holding a separator is refused
//! rather than written wrongly, and an ISA segment must keep its fixed width.

use serde_json::{Map, Value};

use super::segments::{SegmentsError, Syntax, segments};
use super::{FormatError, error_at};

/// Length of the ISA segment up to and including its terminator.
const ISA_LENGTH: usize = 106;

pub fn parse(text: &str) -> Result<Value, FormatError> {
    let body = text.trim_start();
    let base = text.len() - body.len();
    if !body.starts_with("ISA")
        || body.len() < ISA_LENGTH
        || !body.is_ascii() && !body[..ISA_LENGTH].is_ascii()
    {
        return Err(error_at(
            "X12",
            text,
            base,
            "an X12 interchange starts with a 106-character ISA segment",
        ));
    }
    let bytes = body.as_bytes();
    let element = bytes[3] as char;
    let component = bytes[104] as char;
    let terminator = bytes[105] as char;
    let mut segments = Vec::new();
    let mut offset = base;
    for raw in body.split(terminator) {
        let at = offset;
        offset += raw.len() + terminator.len_utf8();
        let trimmed = raw.trim_matches(|c: char| c == '\r' || c == '\n' || c == ' ');
        if trimmed.is_empty() {
            continue;
        }
        let lead = raw.len() - raw.trim_start_matches(['\r', '\n', ' ']).len();
        let mut elements = trimmed.split(element);
        let tag = elements.next().unwrap_or_default();
        if tag.is_empty() || tag.len() > 3 || !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(error_at(
                "X12",
                text,
                at + lead,
                format!(
                    "`{}` does not start with a segment id",
                    trimmed.chars().take(20).collect::<String>()
                ),
            ));
        }
        let elements: Vec<Value> = elements
            .map(|e| {
                if tag != "ISA" && e.contains(component) {
                    Value::Array(
                        e.split(component)
                            .map(|c| Value::String(c.to_owned()))
                            .collect(),
                    )
                } else {
                    Value::String(e.to_owned())
                }
            })
            .collect();
        let mut segment = Map::new();
        segment.insert("tag".into(), Value::String(tag.to_owned()));
        segment.insert("elements".into(), Value::Array(elements));
        segments.push(Value::Object(segment));
    }
    let mut out = Map::new();
    out.insert("segments".into(), Value::Array(segments));
    Ok(Value::Object(out))
}

/// X12's separators with `component` between components.
fn syntax(component: char) -> Syntax {
    Syntax {
        name: "X12",
        component,
        element: '*',
        segment: '~',
        release: None,
    }
}

/// Writes segments (as [`parse`] reads them).
pub fn render(value: &Value) -> Result<String, SegmentsError> {
    let segments = segments(value)?;
    let (header, rest) = match segments.split_first() {
        Some((isa, rest)) if isa.tag == "ISA" => (Some(isa), rest),
        _ => (None, segments.as_slice()),
    };
    // ISA16 names the component separator, so the header holds it as a value: it is
    // written without a component separator of its own, and must keep its fixed width.
    let mut out = match header {
        Some(isa) => syntax('\0').write(std::slice::from_ref(isa))?,
        None => String::new(),
    };
    if header.is_some() && out.len() != ISA_LENGTH {
        return Err(SegmentsError::IsaWidth {
            length: out.len(),
            expected: ISA_LENGTH,
        });
    }
    let component = header
        .and_then(|isa| isa.elements.get(15))
        .and_then(Value::as_str)
        .and_then(|text| {
            let mut chars = text.chars();
            chars.next().filter(|_| chars.next().is_none())
        })
        .unwrap_or(':');
    out.push_str(&syntax(component).write(rest)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_what_it_reads_and_refuses_what_it_cannot_escape() {
        let isa = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*U*00401*000000001*0*P*>~";
        let source = format!("{isa}ST*850*0001~PO1*1*2*EA*9.5**VP>BP*A1~SE*3*0001~");
        let value = parse(&source).unwrap_or_else(|e| panic!("{e}"));
        let written = render(&value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, source);
        assert!(
            render(&json!([{"tag": "N1", "elements": ["ST", "Smith*Sons"]}]))
                .is_err_and(|e| e.to_string().contains("cannot escape"))
        );
        assert!(
            render(&json!([{"tag": "ISA", "elements": ["00", "short"]}]))
                .is_err_and(|e| e.to_string().contains("not 106"))
        );
    }

    #[test]
    fn reads_separators_from_the_isa_header() {
        let isa = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*U*00401*000000001*0*P*>~";
        assert_eq!(isa.len(), ISA_LENGTH);
        let value = parse(&format!(
            "{isa}\nST*850*0001~PO1*1*2*EA*9.5**VP>BP*A1~SE*3*0001~"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            value["segments"][2]["elements"][5],
            serde_json::json!(["VP", "BP"])
        );
        assert_eq!(value["segments"][1]["tag"], "ST");
        assert!(parse("GS*x~").is_err());
    }
}
