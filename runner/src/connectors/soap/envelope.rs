//! SOAP envelopes and the WS-Security UsernameToken header.

use base64::Engine as _;
use sha1::{Digest, Sha1};

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const TOKEN_PROFILE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0";
const BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// SOAP 1.1 or 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V11,
    V12,
}

impl Version {
    pub fn namespace(self) -> &'static str {
        match self {
            Self::V11 => SOAP11,
            Self::V12 => SOAP12,
        }
    }
}

/// A UsernameToken with a password in text or digest form.
pub struct UsernameToken<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub digest: bool,
}

impl UsernameToken<'_> {
    /// The `wsse:Security` header block, with a fresh nonce and creation time.
    pub fn header(&self, version: Version) -> String {
        let nonce: [u8; 16] = rand::random();
        let created = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        self.header_with(version, &nonce, &created)
    }

    pub(crate) fn header_with(&self, version: Version, nonce: &[u8], created: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
        let (kind, password) = if self.digest {
            let mut hasher = Sha1::new();
            hasher.update(nonce);
            hasher.update(created.as_bytes());
            hasher.update(self.password.as_bytes());
            ("PasswordDigest", b64.encode(hasher.finalize()))
        } else {
            ("PasswordText", self.password.to_owned())
        };
        format!(
            concat!(
                r#"<wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}" soap:mustUnderstand="{must}">"#,
                r#"<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>"#,
                r#"<wsse:Password Type="{profile}#{kind}">{password}</wsse:Password>"#,
                r#"<wsse:Nonce EncodingType="{b64type}">{nonce}</wsse:Nonce>"#,
                r#"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"#
            ),
            wsse = WSSE,
            wsu = WSU,
            must = if version == Version::V11 { "1" } else { "true" },
            user = esc(self.username),
            profile = TOKEN_PROFILE,
            kind = kind,
            password = esc(&password),
            b64type = BASE64_BINARY,
            nonce = b64.encode(nonce),
            created = created,
        )
    }
}

/// A complete envelope: `headers` (XML blocks) and `body`, the operation element.
pub fn envelope(version: Version, headers: &[String], body: &str) -> String {
    let header = if headers.is_empty() {
        String::new()
    } else {
        format!("<soap:Header>{}</soap:Header>", headers.concat())
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{}">{header}<soap:Body>{body}</soap:Body></soap:Envelope>"#,
        version.namespace(),
    )
}
