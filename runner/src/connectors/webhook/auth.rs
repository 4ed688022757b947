//! Webhook authentication: a shared token or an HMAC-SHA256 signature of the raw body.
//! Comparisons are constant-time.

use axum::http::{HeaderMap, HeaderName};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchyard_crds::problem::FieldProblem;
use switchyard_crds::v1alpha1::WebhookAuth;

use crate::redact::Secret;
use crate::secrets::SecretSource;

/// GitHub's header name, which many senders copy.
const DEFAULT_SIGNATURE_HEADER: &str = "X-Signature-256";
/// Header for token auth when `Authorization` is taken by something else.
const TOKEN_HEADER: &str = "X-Switchyard-Token";

#[derive(Debug)]
pub enum WebhookAuthenticator {
    Token(Secret),
    Hmac {
        key: Secret,
        header: String,
        prefix: String,
    },
}

/// Why a request was refused; safe to show to the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookAuthError {
    #[error("missing credentials: send `Authorization: Bearer <token>` or `{TOKEN_HEADER}`")]
    MissingToken,
    #[error("invalid token")]
    InvalidToken,
    #[error("missing signature header `{0}`")]
    MissingSignature(String),
    #[error("signature header `{0}` is not hex-encoded HMAC-SHA256")]
    MalformedSignature(String),
    #[error("signature does not match the body")]
    InvalidSignature,
}

impl WebhookAuthenticator {
    pub fn new(
        auth: &WebhookAuth,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Option<Self>, FieldProblem> {
        Self::new_at(auth, "spec.incoming.webhook.auth", namespace, secrets)
    }

    /// The same for an `auth` block at `field` (errors name the field under it).
    pub fn new_at(
        auth: &WebhookAuth,
        field: &str,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Option<Self>, FieldProblem> {
        if let Some(token) = &auth.token {
            let secret = secrets
                .resolve(namespace, token)
                .map_err(|e| FieldProblem::new(format!("{field}.token"), e))?;
            return Ok(Some(Self::Token(secret)));
        }
        if let Some(hmac) = &auth.hmac {
            let key = secrets
                .resolve(namespace, &hmac.secret)
                .map_err(|e| FieldProblem::new(format!("{field}.hmac.secret"), e))?;
            return Ok(Some(Self::Hmac {
                key,
                header: hmac
                    .header
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SIGNATURE_HEADER.to_owned()),
                prefix: hmac.prefix.clone().unwrap_or_default(),
            }));
        }
        Ok(None)
    }

    /// Whether [`WebhookAuthenticator::verify`] reads the body (an HMAC signature).
    pub fn needs_body(&self) -> bool {
        matches!(self, Self::Hmac { .. })
    }

    /// The headers a caller's credentials travel in (a proxy does not forward them).
    pub fn credential_headers(&self) -> Vec<HeaderName> {
        match self {
            Self::Token(_) => vec![
                axum::http::header::AUTHORIZATION,
                HeaderName::from_static("x-switchyard-token"),
            ],
            Self::Hmac { header, .. } => HeaderName::from_bytes(header.as_bytes())
                .map(|name| vec![name])
                .unwrap_or_default(),
        }
    }

    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookAuthError> {
        match self {
            Self::Token(expected) => {
                let presented = headers
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .or_else(|| headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()))
                    .ok_or(WebhookAuthError::MissingToken)?;
                if expected.matches(presented) {
                    Ok(())
                } else {
                    Err(WebhookAuthError::InvalidToken)
                }
            }
            Self::Hmac {
                key,
                header,
                prefix,
            } => {
                let value = headers
                    .get(header.as_str())
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| WebhookAuthError::MissingSignature(header.clone()))?;
                let digest = value
                    .strip_prefix(prefix.as_str())
                    .and_then(|hex_text| hex::decode(hex_text.trim()).ok())
                    .ok_or_else(|| WebhookAuthError::MalformedSignature(header.clone()))?;
                if key.expose().is_empty() {
                    return Err(WebhookAuthError::InvalidSignature);
                }
                let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
                    .map_err(|_| WebhookAuthError::InvalidSignature)?;
                mac.update(body);
                mac.verify_slice(&digest)
                    .map_err(|_| WebhookAuthError::InvalidSignature)
            }
        }
    }
}

/// The signature header value a sender computes: hex HMAC-SHA256 of the body.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn hmac_accepts_the_right_signature_only() {
        let auth = WebhookAuthenticator::Hmac {
            key: Secret::new("hmac-key-for-test".into()),
            header: "X-Sig".into(),
            prefix: "sha256=".into(),
        };
        let body = br#"{"id":1}"#;
        let mut headers = HeaderMap::new();
        assert_eq!(
            auth.verify(&headers, body),
            Err(WebhookAuthError::MissingSignature("X-Sig".into()))
        );
        let good = format!("sha256={}", sign(b"hmac-key-for-test", body));
        headers.insert(
            "X-Sig",
            HeaderValue::from_str(&good).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(auth.verify(&headers, body), Ok(()));
        assert_eq!(
            auth.verify(&headers, b"{\"id\":2}"),
            Err(WebhookAuthError::InvalidSignature)
        );
        headers.insert("X-Sig", HeaderValue::from_static("sha256=zz"));
        assert_eq!(
            auth.verify(&headers, body),
            Err(WebhookAuthError::MalformedSignature("X-Sig".into()))
        );
    }

    #[test]
    fn token_is_read_from_either_header() {
        let auth = WebhookAuthenticator::Token(Secret::new("tok-123456".into()));
        let mut headers = HeaderMap::new();
        assert_eq!(
            auth.verify(&headers, b""),
            Err(WebhookAuthError::MissingToken)
        );
        headers.insert("X-Switchyard-Token", HeaderValue::from_static("wrong"));
        assert_eq!(
            auth.verify(&headers, b""),
            Err(WebhookAuthError::InvalidToken)
        );
        headers.insert(
            "Authorization",
            HeaderValue::from_static("Bearer tok-123456"),
        );
        assert_eq!(auth.verify(&headers, b""), Ok(()));
    }

    #[test]
    fn an_empty_expected_token_or_key_accepts_nothing() {
        let token = WebhookAuthenticator::Token(Secret::new(String::new()));
        let mut headers = HeaderMap::new();
        headers.insert("X-Switchyard-Token", HeaderValue::from_static(""));
        assert_eq!(
            token.verify(&headers, b""),
            Err(WebhookAuthError::InvalidToken)
        );
        let hmac = WebhookAuthenticator::Hmac {
            key: Secret::new(String::new()),
            header: "X-Sig".into(),
            prefix: String::new(),
        };
        let signature = sign(b"", b"{}");
        headers.insert(
            "X-Sig",
            HeaderValue::from_str(&signature).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(
            hmac.verify(&headers, b"{}"),
            Err(WebhookAuthError::InvalidSignature)
        );
    }
}
