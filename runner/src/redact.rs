//! Secret redaction. Every secret value is registered here the moment it is loaded;
//! [`redact`] replaces each registered value (and its common encodings) with `***`. Task
//! logs, API error answers and the process log all pass through it.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, LazyLock, RwLock};

use base64::Engine as _;

/// What replaces a secret.
pub const MASK: &str = "***";

static SECRETS: LazyLock<RwLock<Arc<Vec<String>>>> = LazyLock::new(Default::default);

/// Registers a secret value, plus the forms it takes on the wire (percent-encoded in a
/// query string, base64 in a Basic header), so none of them can be printed.
pub fn register(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let mut forms = vec![secret.to_owned()];
    let encodings = [
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
        // How query strings and form bodies encode it.
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
    ];
    for encoded in encodings {
        if encoded != secret && !forms.contains(&encoded) {
            forms.push(encoded);
        }
    }
    add(forms);
}

/// Registers a Basic-auth credential: the password and the header's base64 form.
pub fn register_basic(username: &str, password: &str) {
    register(password);
    add(vec![
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")),
    ]);
}

fn add(forms: Vec<String>) {
    let mut guard = SECRETS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut list: Vec<String> = guard.as_ref().clone();
    for form in forms {
        if !list.contains(&form) {
            list.push(form);
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    *guard = Arc::new(list);
}

/// `text` with every registered secret masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let mut out = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
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
    fn masks_registered_values_and_their_encodings() {
        register("s3cr3t/value");
        register("dash-key+plus");
        register_basic("alice", "pa55word!");
        let text = "token=s3cr3t/value q=s3cr3t%2Fvalue basic=YWxpY2U6cGE1NXdvcmQh pw=pa55word! k=dash-key%2Bplus";
        assert_eq!(redact(text), "token=*** q=*** basic=*** pw=*** k=***");
        assert_eq!(format!("{:?}", Secret::new("x-y-z".into())), "***");
    }
}
