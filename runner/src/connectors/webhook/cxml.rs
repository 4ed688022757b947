//! cXML webhooks (`incoming.webhook.format: cxml`): a request carries one cXML request
//! document, read by the codec ([`crate::formats::cxml`]) into one item with its
//! credential secrets masked, and the Sender's SharedSecret is checked against the one
//! configured (`incoming.webhook.cxml.sharedSecret`). The comparison is constant-time.

use axum::http::{HeaderMap, header};
use switchyard_crds::problem::FieldProblem;
use switchyard_crds::v1alpha1::{Webhook, WebhookBody};

use crate::formats::FormatError;
use crate::formats::cxml::{self, Document};
use crate::redact::Secret;
use crate::secrets::SecretSource;

/// The media types a cXML document may be sent as.
const MEDIA_TYPES: [&str; 2] = ["text/xml", "application/xml"];

/// A `format: cxml` webhook's intake.
#[derive(Debug)]
pub struct CxmlIntake {
    /// The SharedSecret the Sender must present; `None`: not checked.
    shared_secret: Option<Secret>,
}

/// Why a cXML request was refused; safe to show to the sender (the presented secret is
/// never part of it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CxmlRefusal {
    #[error("the Content-Type is `{0}`; send the cXML document as text/xml or application/xml")]
    ContentType(String),
    #[error("the body is empty; send one cXML request document")]
    Empty,
    #[error("{0}")]
    Malformed(FormatError),
    #[error("cXML/Header/Sender/Credential: no SharedSecret; this webhook requires one")]
    MissingSecret,
    #[error("cXML/Header/Sender/Credential/SharedSecret: does not match")]
    WrongSecret,
}

impl CxmlRefusal {
    /// Whether the sender is refused for its credentials (401) rather than its body.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::MissingSecret | Self::WrongSecret)
    }
}

impl CxmlIntake {
    /// The intake of `webhook` when it takes cXML, its secret resolved.
    pub fn new(
        webhook: &Webhook,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Option<Self>, FieldProblem> {
        if webhook.format != Some(WebhookBody::Cxml) {
            return Ok(None);
        }
        let shared_secret = webhook
            .cxml
            .as_ref()
            .map(|options| {
                secrets
                    .resolve(namespace, &options.shared_secret)
                    .map_err(|e| FieldProblem::new("spec.incoming.webhook.cxml.sharedSecret", e))
            })
            .transpose()?;
        Ok(Some(Self { shared_secret }))
    }

    /// Reads the request's document: the Content-Type must be XML and the body one
    /// cXML request document in UTF-8.
    pub fn read(&self, headers: &HeaderMap, body: &[u8]) -> Result<Document, CxmlRefusal> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(CxmlRefusal::ContentType(content_type));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(CxmlRefusal::Empty);
        }
        let text = std::str::from_utf8(body).map_err(|e| {
            CxmlRefusal::Malformed(FormatError::NotUtf8 {
                format: "cXML",
                offset: e.valid_up_to(),
                message: e.to_string(),
            })
        })?;
        cxml::read(text).map_err(CxmlRefusal::Malformed)
    }

    /// Checks the Sender's SharedSecret (when one is configured).
    pub fn verify(&self, document: &Document) -> Result<(), CxmlRefusal> {
        let Some(expected) = &self.shared_secret else {
            return Ok(());
        };
        let presented = document.sender_secret().ok_or(CxmlRefusal::MissingSecret)?;
        if expected.matches(presented.expose()) {
            Ok(())
        } else {
            Err(CxmlRefusal::WrongSecret)
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn document(secret: &str) -> String {
        format!(
            r#"<cXML payloadID="p-1@buyer.example" timestamp="2026-12-03T01:00:00+01:00"><Header><From><Credential domain="NetworkID"><Identity>AN01</Identity></Credential></From><To><Credential domain="DUNS"><Identity>1</Identity></Credential></To><Sender><Credential domain="NetworkID"><Identity>AN01</Identity>{secret}</Credential><UserAgent>P</UserAgent></Sender></Header><Request><OrderRequest><OrderRequestHeader orderID="PO-1" orderDate="2026-12-02T16:30:00+01:00"/><ItemOut quantity="1" lineNumber="1"><ItemID><SupplierPartID>A</SupplierPartID></ItemID></ItemOut></OrderRequest></Request></cXML>"#
        )
    }

    fn xml_headers(content_type: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers
    }

    fn intake(secret: Option<&str>) -> CxmlIntake {
        CxmlIntake {
            shared_secret: secret.map(|s| Secret::new(s.to_owned())),
        }
    }

    #[test]
    fn only_xml_media_types_are_read() {
        let body = document("");
        let read = |content_type| intake(None).read(&xml_headers(content_type), body.as_bytes());
        assert!(read("text/xml").is_ok());
        assert!(read("Application/XML; charset=UTF-8").is_ok());
        assert_eq!(
            read("application/json").err(),
            Some(CxmlRefusal::ContentType("application/json".into()))
        );
        assert_eq!(
            intake(None).read(&HeaderMap::new(), body.as_bytes()).err(),
            Some(CxmlRefusal::ContentType(String::new()))
        );
        assert_eq!(
            intake(None).read(&xml_headers("text/xml"), b" \n").err(),
            Some(CxmlRefusal::Empty)
        );
    }

    #[test]
    fn a_malformed_document_names_the_element_or_position() {
        let headers = xml_headers("text/xml");
        let missing = document("").replace("<UserAgent>P</UserAgent>", "");
        let error = intake(None).read(&headers, missing.as_bytes()).err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some("cXML cXML/Header/Sender/UserAgent: is missing".into())
        );
        let error = intake(None).read(&headers, b"<cXML><Header>").err();
        assert!(
            matches!(
                &error,
                Some(CxmlRefusal::Malformed(FormatError::Parse { .. }))
            ),
            "{error:?}"
        );
        let error = intake(None).read(&headers, b"<cXML>\xff</cXML>").err();
        assert!(
            matches!(
                &error,
                Some(CxmlRefusal::Malformed(FormatError::NotUtf8 {
                    offset: 6,
                    ..
                }))
            ),
            "{error:?}"
        );
    }

    #[test]
    fn the_sender_must_present_the_configured_secret() {
        let headers = xml_headers("text/xml");
        let read = |secret: &str| {
            intake(None)
                .read(&headers, document(secret).as_bytes())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let good = read("<SharedSecret>welcome-punchout</SharedSecret>");
        let wrong = read("<SharedSecret>guess</SharedSecret>");
        let none = read("");
        let checked = intake(Some("welcome-punchout"));
        assert_eq!(checked.verify(&good), Ok(()));
        assert_eq!(checked.verify(&wrong), Err(CxmlRefusal::WrongSecret));
        assert_eq!(checked.verify(&none), Err(CxmlRefusal::MissingSecret));
        assert!(CxmlRefusal::WrongSecret.is_unauthorized());
        assert_eq!(intake(None).verify(&none), Ok(()));
        assert_eq!(
            intake(Some("")).verify(&read("<SharedSecret></SharedSecret>")),
            Err(CxmlRefusal::WrongSecret)
        );
        // The item never carries the secret, in any form.
        let item = good.to_json().to_string();
        assert!(!item.contains("welcome-punchout"), "{item}");
    }
}
