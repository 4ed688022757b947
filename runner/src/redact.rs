//! Secret redaction. Every secret value is registered here the moment it is loaded, in
//! every form it takes on the wire; [`redact`] replaces each of them with `***` in one
//! pass (a multi-pattern matcher), and [`excerpt`] masks before it cuts, so no prefix of
//! a secret survives a truncated error body. Task logs, API error answers, the process
//! log and start-up errors all pass through it.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, LazyLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// What replaces a secret.
pub const MASK: &str = "***";

/// RFC 3986's unreserved characters stay as they are; everything else is encoded (how
/// many clients encode path segments and query values).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The registered forms and a matcher over them.
#[derive(Default)]
struct Registry {
    forms: Vec<String>,
    matcher: Option<AhoCorasick>,
}

static SECRETS: LazyLock<RwLock<Arc<Registry>>> = LazyLock::new(Default::default);

/// Registers a secret value and the forms it takes on the wire: percent-encoded (`%20`
/// and `+` for a space, upper- and lower-case hex), JSON- and XML-escaped, and base64.
pub fn register(secret: &str) {
    if secret.is_empty() {
        return;
    }
    add(wire_forms(secret));
}

/// Registers a Basic-auth credential (`username:password`, as an HTTP client or an
/// OAuth2 client authenticates): the password's forms and the header's base64.
pub fn register_basic(username: &str, password: &str) {
    if password.is_empty() {
        return;
    }
    let mut forms = wire_forms(password);
    let pair = format!("{username}:{password}");
    for engine in [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
    ] {
        forms.push(engine.encode(&pair));
    }
    add(forms);
}

/// The password of a URL (`postgres://user:password@host/db`), registered in its decoded
/// and its written form.
pub fn register_url_password(url: &str) {
    let Ok(parsed) = url::Url::parse(url) else {
        return;
    };
    let Some(written) = parsed.password() else {
        return;
    };
    register(written);
    if let Ok(decoded) = percent_encoding::percent_decode_str(written).decode_utf8() {
        register(&decoded);
        register_basic(parsed.username(), &decoded);
    }
}

/// Every form of `secret` the redactor masks (raw, percent-encoded, JSON- and
/// XML-escaped, base64): what a test looks for to prove a secret did not leak.
pub fn wire_forms(secret: &str) -> Vec<String> {
    let strict = percent_encoding::utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    let unreserved = percent_encoding::utf8_percent_encode(secret, UNRESERVED).to_string();
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned();
    let candidates = [
        secret.to_owned(),
        lower_hex(&strict),
        lower_hex(&unreserved),
        strict,
        unreserved,
        // How query strings and form bodies encode it (a space is `+`).
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
        json.replace('/', "\\/"),
        json,
        xml_escape(secret),
        base64::engine::general_purpose::STANDARD.encode(secret),
    ];
    let mut forms: Vec<String> = Vec::with_capacity(candidates.len());
    for form in candidates {
        if !form.is_empty() && !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms
}

/// `%2F` written as `%2f`.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn add(forms: Vec<String>) {
    let mut guard = SECRETS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut list = guard.forms.clone();
    let before = list.len();
    for form in forms {
        if !list.contains(&form) {
            list.push(form);
        }
    }
    if list.len() == before {
        return;
    }
    // Leftmost-longest: a secret that contains another is masked whole.
    let matcher = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&list);
    match matcher {
        Ok(matcher) => {
            *guard = Arc::new(Registry {
                forms: list,
                matcher: Some(matcher),
            });
        }
        // Only a pattern set past the matcher's size limits fails; keep the old one
        // rather than mask nothing, and say so (the message names no secret).
        Err(error) => {
            eprintln!("the secret redactor cannot take more secrets: {error}");
        }
    }
}

fn registry() -> Arc<Registry> {
    SECRETS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// `text` with every registered secret masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    redact_with(&registry(), text)
}

fn redact_with<'a>(registry: &Registry, text: &'a str) -> Cow<'a, str> {
    match &registry.matcher {
        Some(matcher) if matcher.is_match(text) => {
            let masks = vec![MASK; registry.forms.len()];
            Cow::Owned(matcher.replace_all(text, &masks))
        }
        _ => Cow::Borrowed(text),
    }
}

/// How much of a server's own error message (a database, an FTP server) is shown.
pub const SERVER_MESSAGE_CHARS: usize = 1_000;

/// At most `max` characters of `text` (an error body, a server's message) for a log or
/// an error, with every secret masked first: a secret that starts before the cut is
/// masked whole, never shown in part. The text is scanned only as far as the cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let registry = registry();
    let mut out = String::new();
    let mut shown = 0;
    let mut pos = 0;
    let matches = registry
        .matcher
        .as_ref()
        .map(|matcher| matcher.find_iter(text));
    for found in matches.into_iter().flatten() {
        let before = &text[pos..found.start()];
        if let Some(cut) = before.char_indices().nth(max - shown).map(|(i, _)| i) {
            out.push_str(&before[..cut]);
            out.push('…');
            return out;
        }
        out.push_str(before);
        shown += before.chars().count();
        out.push_str(MASK);
        shown += MASK.len();
        pos = found.end();
        if shown >= max {
            if pos < text.len() {
                out.push('…');
            }
            return out;
        }
    }
    out.push_str(&truncate(&text[pos..], max - shown));
    out
}

/// At most `max` characters of `text`, on a character boundary, `…` marking a cut. For
/// texts that hold no secrets; anything a server sent goes through [`excerpt`].
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A `tracing` writer that redacts each line before it reaches stderr.
#[derive(Clone, Copy, Default)]
pub struct RedactingStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingWriter;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter
    }
}

pub struct RedactingWriter;

impl Write for RedactingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A secret value whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps and registers a secret value.
    pub fn new(value: String) -> Self {
        register(&value);
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether a sender presented this secret, compared in constant time. Fails closed:
    /// an empty secret (resolving refuses one) matches nothing, not an empty value.
    pub fn matches(&self, presented: &str) -> bool {
        !self.0.is_empty()
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                presented.as_bytes(),
                self.0.as_bytes(),
            ))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_only_itself_and_an_empty_one_nothing() {
        let secret = Secret("matches-marker-1".to_owned());
        assert!(secret.matches("matches-marker-1"));
        assert!(!secret.matches("matches-marker-"));
        assert!(!secret.matches("matches-marker-12"));
        assert!(!secret.matches(""));
        let empty = Secret(String::new());
        assert!(!empty.matches(""));
        assert!(!empty.matches("x"));
    }

    #[test]
    fn masks_registered_values_and_their_encodings() {
        register("s3cr3t/value");
        register("dash-key+plus");
        register_basic("alice", "pa55word!");
        let text = "token=s3cr3t/value q=s3cr3t%2Fvalue basic=YWxpY2U6cGE1NXdvcmQh pw=pa55word! k=dash-key%2Bplus";
        assert_eq!(redact(text), "token=*** q=*** basic=*** pw=*** k=***");
        assert_eq!(format!("{:?}", Secret::new("x-y-z".into())), "***");
    }

    #[test]
    fn every_wire_form_is_masked() {
        let secret = "We \"quote\" & sp/ace\\";
        register_basic("client-id", secret);
        let json = serde_json::to_string(secret).unwrap_or_default();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("client-id:{secret}"));
        let forms = [
            secret.to_owned(),
            json.trim_matches('"').to_owned(),
            percent_encoding::utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
            lower_hex(&percent_encoding::utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string()),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
            xml_escape(secret),
            format!("Basic {basic}"),
        ];
        for form in forms {
            let shown = redact(&format!("before {form} after")).into_owned();
            assert_eq!(shown.matches(MASK).count(), 1, "{form}: {shown}");
            assert!(
                !shown.contains("sp/ace") && !shown.contains("sp%2F"),
                "{shown}"
            );
        }
    }

    #[test]
    fn an_excerpt_masks_before_it_cuts() {
        let secret = "late-echoed-secret-0123456789";
        register(secret);
        let body = format!("{}{secret} and more", "x".repeat(95));
        let shown = excerpt(&body, 100);
        assert!(shown.starts_with(&"x".repeat(95)), "{shown}");
        assert!(
            !shown.contains("late-"),
            "a prefix of the secret survived: {shown}"
        );
        assert!(shown.ends_with('…'), "{shown}");
        let long = format!("{secret}{}", "y".repeat(1_000_000));
        assert!(excerpt(&long, 10).starts_with(MASK));
    }

    #[test]
    fn a_url_password_is_registered_decoded_and_written() {
        register_url_password("postgres://queue:p%40ss-W0rd-url@127.0.0.1:1/db");
        assert_eq!(redact("p@ss-W0rd-url p%40ss-W0rd-url"), "*** ***");
    }
}
