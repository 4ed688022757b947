//! The marker secret and every form it takes on the wire.

use base64::Engine as _;

/// The user names that go with the marker: OAuth2 client, HTTP basic and WS-Security,
/// the queue URL.
pub const CLIENT_ID: &str = "client-7";
pub const BASIC_USER: &str = "alice";
pub const QUEUE_USER: &str = "switchyard";

/// A fresh marker: characters that every encoding changes (`/`, `+`, space, `"`, `\`,
/// `&`), so each wire form is a different string.
pub fn marker() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("Mk{}/+ \"q\\&{}", &id[..12], &id[20..])
}

/// Every form the marker takes on the wire, and a label for each.
pub fn encodings(marker: &str) -> Vec<(&'static str, String)> {
    let strict = percent_encoding::utf8_percent_encode(marker, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let json = serde_json::to_string(marker).expect("JSON");
    let basic =
        |user: &str| base64::engine::general_purpose::STANDARD.encode(format!("{user}:{marker}"));
    vec![
        ("raw", marker.to_owned()),
        ("percent-encoded", strict.clone()),
        (
            "percent-encoded, lower-case hex",
            strict.to_lowercase().replace("mk", "Mk"),
        ),
        ("form-encoded (+ for a space)", url_form(marker)),
        ("JSON-escaped", json.trim_matches('"').to_owned()),
        (
            "XML-escaped",
            marker
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;"),
        ),
        ("Basic (HTTP basic auth)", basic(BASIC_USER)),
        ("Basic (OAuth2 client authentication)", basic(CLIENT_ID)),
        ("Basic (queue URL user)", basic(QUEUE_USER)),
        // Prefixes: what a cut after masking would have left of the raw form.
        ("raw prefix", marker[..10].to_owned()),
    ]
}

/// `text` form-encoded (`application/x-www-form-urlencoded`: `+` for a space).
fn url_form(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
