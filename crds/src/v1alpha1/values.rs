//! Fields with a fixed set of values, as enums: the CRD schemas list the values, so
//! `kubectl apply` rejects a typo, and the runner matches on variants with no fallback.
//! Each variant is spelled as manifests always wrote it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An HTTP method (upper case, as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// Read a resource.
    Get,
    /// Create a resource or submit data.
    Post,
    /// Replace a resource.
    Put,
    /// Change part of a resource.
    Patch,
    /// Delete a resource.
    Delete,
    /// Like GET, without the body.
    Head,
    /// Ask which methods the resource allows.
    Options,
}

impl HttpMethod {
    /// The method as written on the wire, e.g. `POST`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
        }
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The format of the files a file poll reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FileFormat {
    /// Comma (or `delimiter`) separated values with a header row; each row an object.
    Csv,
    /// One JSON document: an array (one item per element) or a single value.
    Json,
    /// One JSON value per line.
    JsonLines,
    /// An XML document, converted to JSON (docs/transformers.md, "XML and JSON").
    Xml,
    /// The file's text as it is, one item per file: `{body: "<the text>"}`, for a
    /// `parse` step to read (an EDIFACT or X12 interchange, a cXML document). The file
    /// must be UTF-8.
    Text,
}

/// How a polled file becomes tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FileSplit {
    /// One task per CSV row, JSON array element or JSON line (the default).
    #[default]
    Record,
    /// One task per file.
    File,
}

/// What happens to a polled file once its tasks are queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AfterRead {
    /// Move it to `processedPath` (the default).
    #[default]
    Move,
    /// Delete it.
    Delete,
    /// Leave it where it is (a later poll reads it again).
    Keep,
}

/// The format of the files a file delivery writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OutputFormat {
    /// The item as one JSON document (the default).
    #[default]
    Json,
    /// One JSON value per line; an array item becomes one line per element.
    JsonLines,
    /// CSV with a header row naming every key of the object rows.
    Csv,
}

/// How an SFTP client treats the server's host key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum KnownHostsStrategy {
    /// The host key must already be in `known_hosts` (the default).
    #[default]
    Strict,
    /// Trust the key on first use and add it to `known_hosts`.
    Add,
    /// Accept any host key (tests only: it allows a man in the middle).
    Accept,
}

impl KnownHostsStrategy {
    /// The value as written in a manifest (and as OpenSSH's `StrictHostKeyChecking`
    /// wrapper of OpenDAL expects it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Add => "add",
            Self::Accept => "accept",
        }
    }
}

/// Which HTTP redirects a Connection follows. Credentials (the `Authorization` header,
/// an API key, secret-valued headers) are never sent to another origin (scheme, host
/// and port).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FollowRedirects {
    /// Redirects within the same origin are followed; one to another origin fails the
    /// request with an error naming both (the default).
    #[default]
    SameOrigin,
    /// No redirect is followed: a 3xx answer fails the request with an error.
    Never,
    /// Every redirect is followed (at most 10 in a row); on reaching another origin the
    /// credentials and secret-valued headers are dropped from the request.
    Any,
}

impl FollowRedirects {
    /// The value as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SameOrigin => "sameOrigin",
            Self::Never => "never",
            Self::Any => "any",
        }
    }
}

/// A SOAP version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SoapVersion {
    /// SOAP 1.1: `text/xml` and a `SOAPAction` header (the default).
    #[default]
    #[serde(rename = "1.1")]
    V1_1,
    /// SOAP 1.2: `application/soap+xml` with an `action` parameter.
    #[serde(rename = "1.2")]
    V1_2,
}

/// How a WS-Security UsernameToken carries the password.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PasswordType {
    /// `PasswordText`: the password itself (the default; use it over TLS only).
    #[default]
    Text,
    /// `PasswordDigest`: Base64(SHA-1(nonce + created + password)).
    Digest,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelling<T: Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    #[test]
    fn values_keep_the_spellings_manifests_use() {
        assert_eq!(spelling(HttpMethod::Options), "OPTIONS");
        assert_eq!(spelling(FileFormat::JsonLines), "jsonLines");
        assert_eq!(spelling(SoapVersion::V1_2), "1.2");
        assert_eq!(spelling(KnownHostsStrategy::Accept), "accept");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
            let parsed: HttpMethod =
                serde_json::from_value(method.into()).unwrap_or_else(|e| panic!("{method}: {e}"));
            assert_eq!(parsed.as_str(), method);
        }
        for strategy in [
            KnownHostsStrategy::Strict,
            KnownHostsStrategy::Add,
            KnownHostsStrategy::Accept,
        ] {
            assert_eq!(spelling(strategy), strategy.as_str());
        }
        assert!(serde_json::from_value::<HttpMethod>("PSOT".into()).is_err());
        assert!(serde_json::from_value::<HttpMethod>("post".into()).is_err());
        assert!(serde_json::from_value::<SoapVersion>("1.3".into()).is_err());
    }
}
