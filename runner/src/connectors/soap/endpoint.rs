//! One SOAP Connection, resolved: URL, version, security header, HTTP client. Shared by
//! every route that uses it.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Map, Value};
use switchyard_crds::v1alpha1::{PasswordType, SoapCall, SoapConnection, SoapVersion, XmlOptions};

use super::SoapError;
use super::envelope::{UsernameToken, Version, envelope};
use crate::connectors::http::{
    ClientContext, RedirectPolicy, build_client, describe_reqwest_error, resolve_headers, send,
};
use crate::formats::xml;
use crate::redact;
use crate::redact::Secret;
use crate::secrets::SecretSource;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a fault's text a task log shows.
const FAULT_STRING_CHARS: usize = 500;
/// How much of a non-SOAP error body a task log shows.
const SHOWN_BODY_CHARS: usize = 200;

pub struct SoapEndpoint {
    url: String,
    version: Version,
    headers: HeaderMap,
    header_blocks: Vec<String>,
    security: Option<(String, Secret, bool)>,
    client: reqwest::Client,
    redirects: RedirectPolicy,
}

impl SoapEndpoint {
    pub fn new(
        spec: &SoapConnection,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, SoapError> {
        let config = |field: &str, message: String| SoapError::Config {
            field: field.to_owned(),
            message,
        };
        let security = spec
            .ws_security
            .as_ref()
            .map(|ws| {
                secrets
                    .resolve(namespace, &ws.password)
                    .map(|password| {
                        (
                            ws.username.clone(),
                            password,
                            ws.password_type.unwrap_or_default() == PasswordType::Digest,
                        )
                    })
                    .map_err(|e| config("spec.soap.wsSecurity.password", e.to_string()))
            })
            .transpose()?;
        let timeout = spec
            .timeout_seconds
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or(DEFAULT_TIMEOUT);
        let client = build_client(
            timeout,
            spec.tls.as_ref(),
            &ClientContext {
                field: "spec.soap",
                namespace,
                secrets,
            },
        )?;
        Ok(Self {
            url: spec.url.clone(),
            version: match spec.version.unwrap_or_default() {
                SoapVersion::V1_1 => Version::V11,
                SoapVersion::V1_2 => Version::V12,
            },
            headers: resolve_headers(&spec.headers, "spec.soap.headers", namespace, secrets)
                .map_err(|e| config("spec.soap.headers", e.to_string()))?,
            header_blocks: spec.header_blocks.clone(),
            redirects: RedirectPolicy {
                follow: spec.follow_redirects.unwrap_or_default(),
                secret_query: None,
                body_has_credentials: security.is_some(),
            },
            security,
            client,
        })
    }

    /// The envelope of `call` with `content` written as the operation element (`op:` +
    /// the operation, in the call's namespace) the way every XML is written: an
    /// object's keys become child elements, `@name` keys attributes, `#text` text; a
    /// scalar is the element's text, `null` leaves it empty.
    pub fn envelope(&self, call: &SoapCall, content: &Value) -> Result<String, SoapError> {
        let mut headers = Vec::new();
        if let Some((username, password, digest)) = &self.security {
            headers.push(
                UsernameToken {
                    username,
                    password: password.expose(),
                    digest: *digest,
                }
                .header(self.version),
            );
        }
        headers.extend(self.header_blocks.iter().cloned());
        let mut fields = match content {
            Value::Object(fields) => fields.clone(),
            Value::Null => Map::new(),
            Value::Array(_) => {
                return Err(SoapError::Envelope(
                    "the body is an array; it must be an object (the operation's children)".into(),
                ));
            }
            scalar => Map::from_iter([("#text".to_owned(), scalar.clone())]),
        };
        fields.insert("@xmlns:op".into(), Value::String(call.namespace.clone()));
        let mut body = String::new();
        xml::element(
            &mut body,
            &format!("op:{}", call.operation),
            &Value::Object(fields),
        )
        .map_err(|e| SoapError::Envelope(e.to_string()))?;
        Ok(envelope(self.version, &headers, &body))
    }

    /// Calls the operation; the response body's content as JSON (`{"OpResponse": …}`),
    /// or the fault.
    pub async fn call(&self, call: &SoapCall, content: &Value) -> Result<Value, SoapError> {
        let body = self.envelope(call, content)?;
        let mut request = self.client.post(&self.url).headers(self.headers.clone());
        let action = call.action.clone().unwrap_or_default();
        request = match self.version {
            Version::V11 => request
                .header(CONTENT_TYPE, "text/xml; charset=utf-8")
                .header("SOAPAction", format!("\"{action}\"")),
            Version::V12 => request.header(
                CONTENT_TYPE,
                format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
            ),
        };
        let request = request
            .body(body)
            .build()
            .map_err(|e| SoapError::Transport(describe_reqwest_error(&e)))?;
        let response = send(&self.client, request, &self.redirects)
            .await
            .map_err(|e| {
                let message = format!("POST {}: {e}", redact::redact(&self.url));
                if e.is_permanent() {
                    SoapError::Redirect(message)
                } else {
                    SoapError::Transport(message)
                }
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| SoapError::Transport(describe_reqwest_error(&e)))?;
        let default = XmlOptions::default();
        let parsed = xml::decode(&text, call.xml.as_ref().unwrap_or(&default));
        let body = parsed
            .as_ref()
            .ok()
            .and_then(|v| v.get("Envelope"))
            .and_then(|e| e.get("Body"));
        if let Some(fault) = body.and_then(|b| b.get("Fault")) {
            return Err(fault_of(fault));
        }
        if !status.is_success() {
            return Err(SoapError::Status {
                status: status.as_u16(),
                body: redact::excerpt(&text, SHOWN_BODY_CHARS),
            });
        }
        match (body, &parsed) {
            (Some(body), _) => Ok(body.clone()),
            (None, Ok(_)) => Err(SoapError::Response("no Envelope/Body".into())),
            (None, Err(error)) => Err(SoapError::Response(error.to_string())),
        }
    }
}

/// A SOAP 1.1 (`faultcode`, `faultstring`) or 1.2 (`Code/Value`, `Reason/Text`) fault.
fn fault_of(fault: &Value) -> SoapError {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("#text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let code = fault
        .get("faultcode")
        .or_else(|| fault.get("Code").and_then(|c| c.get("Value")));
    let string = fault
        .get("faultstring")
        .or_else(|| fault.get("Reason").and_then(|r| r.get("Text")));
    SoapError::Fault {
        code: text(code),
        string: redact::excerpt(&text(string), FAULT_STRING_CHARS),
    }
}
