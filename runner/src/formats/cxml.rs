//! cXML 1.2 (procurement documents) ↔ JSON: a typed layer over the one XML codec
//! ([`super::xml`]). The document is read by the XML convention with the DTDs'
//! repeating elements as arrays ([`super::cxml_schema`]), then the envelope and header
//! are taken into typed fields and the request's element is kept as its body:
//!
//! ```json
//! {"payloadId": "1733190000.42@buyer.example", "timestamp": "2026-12-03T01:00:00+01:00",
//!  "version": "1.2.014", "lang": "en-US",
//!  "header": {"from": {"credentials": [{"domain": "NetworkID", "identity": "AN01"}]},
//!             "to": {"credentials": [...]},
//!             "sender": {"credentials": [{"domain": "NetworkID", "identity": "AN01",
//!                                         "sharedSecret": "***"}], "userAgent": "Buyer 9"}},
//!  "request": {"type": "OrderRequest", "deploymentMode": "production",
//!              "body": {"OrderRequestHeader": {"@orderID": "PO-1", ...}, "ItemOut": [...]}}}
//! ```
//!
//! A credential's secrets (`SharedSecret`, `CredentialMac`, `DigitalSignature`) never
//! reach the JSON: they are `"***"` there, and only [`Document::sender_secret`] gives the
//! Sender's to the webhook that checks it. Writing adds the XML declaration and the
//! DOCTYPE (`cXML.dtd` for an OrderRequest, `Fulfill.dtd` for the others), a payloadID
//! and a timestamp when the value has none, and writes each element's children in its
//! DTD order; a masked secret is left out.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};
use switchyard_crds::v1alpha1::XmlOptions;

use super::cxml_schema::{ARRAYS, children, required};
use super::{FormatError, xml};
use crate::redact::MASK;

/// The cXML version written when the value names none.
pub const DEFAULT_VERSION: &str = "1.2.014";
const FORMAT: &str = "cXML";

/// A secret a document carries (a credential's SharedSecret, MAC or signature). It is
/// not registered with the redactor — a sender may present any value, and a wrong one
/// must not grow the redactor — so it is kept out of every JSON, log and error instead:
/// `Debug` and `Serialize` write `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialSecret(String);

impl CredentialSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for CredentialSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

impl<'de> Deserialize<'de> for CredentialSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

impl CredentialSecret {
    /// Whether this is a masked value (`***`, as `parse` gives it): not written.
    fn is_masked(&self) -> bool {
        self.0 == MASK
    }
}

/// One `Credential` of `From`, `To` or `Sender`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credential {
    /// `@domain`, e.g. `NetworkID`, `DUNS`.
    pub domain: String,
    /// `@type` (`marketplace`), when given.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `Identity`.
    pub identity: String,
    /// `SharedSecret`: `***` in JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_secret: Option<CredentialSecret>,
    /// `CredentialMac`'s value: `***` in JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_mac: Option<CredentialSecret>,
    /// `DigitalSignature`'s value: `***` in JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digital_signature: Option<CredentialSecret>,
}

/// `From` or `To`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Party {
    pub credentials: Vec<Credential>,
}

/// `Sender`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sender {
    pub credentials: Vec<Credential>,
    /// `UserAgent`: the sending application.
    pub user_agent: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Header {
    pub from: Party,
    pub to: Party,
    pub sender: Sender,
}

/// The requests this codec reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestType {
    /// A purchase order from a buyer (`cXML.dtd`).
    OrderRequest,
    /// A supplier's order confirmation (`Fulfill.dtd`).
    ConfirmationRequest,
    /// A supplier's advance ship notice (`Fulfill.dtd`).
    ShipNoticeRequest,
}

impl RequestType {
    const ALL: [Self; 3] = [
        Self::OrderRequest,
        Self::ConfirmationRequest,
        Self::ShipNoticeRequest,
    ];

    /// The element name.
    pub fn name(self) -> &'static str {
        match self {
            Self::OrderRequest => "OrderRequest",
            Self::ConfirmationRequest => "ConfirmationRequest",
            Self::ShipNoticeRequest => "ShipNoticeRequest",
        }
    }

    /// The DTD that declares it.
    fn dtd(self) -> &'static str {
        match self {
            Self::OrderRequest => "cXML.dtd",
            Self::ConfirmationRequest | Self::ShipNoticeRequest => "Fulfill.dtd",
        }
    }
}

/// `Request@deploymentMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeploymentMode {
    /// A real document (the DTD's default).
    #[default]
    Production,
    /// A test document the receiver must not act on.
    Test,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Request {
    #[serde(rename = "type")]
    pub kind: RequestType,
    #[serde(default)]
    pub deployment_mode: DeploymentMode,
    /// `Request@Id`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The request element by the XML convention (attributes `@name`).
    pub body: Value,
}

/// A cXML request document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Document {
    /// Generated when writing a value without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_id: Option<String>,
    /// Now, when writing a value without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// [`DEFAULT_VERSION`] when writing a value without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `xml:lang`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    pub header: Header,
    pub request: Request,
}

impl Document {
    /// The first SharedSecret of the Sender's credentials.
    pub fn sender_secret(&self) -> Option<&CredentialSecret> {
        self.header
            .sender
            .credentials
            .iter()
            .find_map(|c| c.shared_secret.as_ref())
    }

    /// The JSON shape (secrets masked).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn at(path: &str, message: impl Into<String>) -> FormatError {
    FormatError::Element {
        format: FORMAT,
        path: path.to_owned(),
        message: message.into(),
    }
}

/// The text of an element (a string, or an object's `#text`).
fn text(value: &Value, path: &str) -> Result<String, FormatError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Object(fields) => match fields.get("#text") {
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Err(at(path, "has elements where text was expected")),
        },
        _ => Err(at(path, "occurs more than once")),
    }
}

fn child<'a>(parent: &'a Value, path: &str, name: &str) -> Result<&'a Value, FormatError> {
    parent
        .get(name)
        .ok_or_else(|| at(&format!("{path}/{name}"), "is missing"))
}

fn attribute(parent: &Value, name: &str) -> Option<String> {
    parent
        .get(format!("@{name}"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// The elements of an array-valued child (an empty list when absent).
fn elements<'a>(parent: &'a Value, name: &str) -> &'a [Value] {
    parent
        .get(name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn credentials(parent: &Value, path: &str) -> Result<Vec<Credential>, FormatError> {
    let found = elements(parent, "Credential");
    if found.is_empty() {
        return Err(at(&format!("{path}/Credential"), "is missing"));
    }
    found
        .iter()
        .enumerate()
        .map(|(i, credential)| {
            let path = format!("{path}/Credential[{}]", i + 1);
            let secret = |name: &str| -> Result<Option<CredentialSecret>, FormatError> {
                credential
                    .get(name)
                    .map(|v| text(v, &format!("{path}/{name}")).map(CredentialSecret))
                    .transpose()
            };
            Ok(Credential {
                domain: attribute(credential, "domain")
                    .ok_or_else(|| at(&format!("{path}/@domain"), "is missing"))?,
                kind: attribute(credential, "type"),
                identity: text(
                    child(credential, &path, "Identity")?,
                    &format!("{path}/Identity"),
                )?,
                shared_secret: secret("SharedSecret")?,
                credential_mac: secret("CredentialMac")?,
                digital_signature: secret("DigitalSignature")?,
            })
        })
        .collect()
}

fn header(envelope: &Value) -> Result<Header, FormatError> {
    let path = "cXML/Header";
    let header = child(envelope, "cXML", "Header")?;
    let party = |name: &str| -> Result<Party, FormatError> {
        let path = format!("{path}/{name}");
        Ok(Party {
            credentials: credentials(child(header, "cXML/Header", name)?, &path)?,
        })
    };
    let sender = child(header, path, "Sender")?;
    let sender_path = "cXML/Header/Sender";
    Ok(Header {
        from: party("From")?,
        to: party("To")?,
        sender: Sender {
            credentials: credentials(sender, sender_path)?,
            user_agent: text(
                child(sender, sender_path, "UserAgent")?,
                "cXML/Header/Sender/UserAgent",
            )?,
        },
    })
}

/// Checks [`required`]: each `(steps, name)` in every element the steps reach.
fn check_required(kind: RequestType, body: &Value, path: &str) -> Result<(), FormatError> {
    fn walk(value: &Value, path: &str, steps: &[&str], name: &str) -> Result<(), FormatError> {
        if let Value::Array(items) = value {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{}]", i + 1), steps, name)?;
            }
            return Ok(());
        }
        match steps.split_first() {
            Some((step, rest)) => match value.get(*step) {
                Some(next) => walk(next, &format!("{path}/{step}"), rest, name),
                None => Ok(()),
            },
            None if value.get(name).is_some() => Ok(()),
            None => Err(at(&format!("{path}/{name}"), "is missing")),
        }
    }
    for (steps, name) in required(kind.name()) {
        walk(body, path, steps, name)?;
    }
    Ok(())
}

fn request(envelope: &Value) -> Result<Request, FormatError> {
    let Some(request) = envelope.get("Request") else {
        let other = ["Response", "Message"]
            .into_iter()
            .find(|name| envelope.get(name).is_some());
        return Err(match other {
            Some(name) => at(
                &format!("cXML/{name}"),
                "is not a request; OrderRequest, ConfirmationRequest and ShipNoticeRequest are read",
            ),
            None => at("cXML/Request", "is missing"),
        });
    };
    let names: Vec<&String> = request
        .as_object()
        .map(|fields| fields.keys().filter(|k| !k.starts_with('@')).collect())
        .unwrap_or_default();
    let [name] = names.as_slice() else {
        return Err(at(
            "cXML/Request",
            format!("must hold one request element, found {}", names.len()),
        ));
    };
    let path = format!("cXML/Request/{name}");
    let kind = RequestType::ALL
        .into_iter()
        .find(|kind| kind.name() == name.as_str())
        .ok_or_else(|| {
            at(
                &path,
                "is not supported; OrderRequest, ConfirmationRequest and ShipNoticeRequest are",
            )
        })?;
    let body = request.get(name.as_str()).cloned().unwrap_or(Value::Null);
    if !body.is_object() {
        return Err(at(&path, "must be one element with content"));
    }
    check_required(kind, &body, &path)?;
    let deployment_mode = match attribute(request, "deploymentMode").as_deref() {
        None | Some("production") => DeploymentMode::Production,
        Some("test") => DeploymentMode::Test,
        Some(other) => {
            return Err(at(
                "cXML/Request/@deploymentMode",
                format!("is `{other}`; expected production or test"),
            ));
        }
    };
    Ok(Request {
        kind,
        deployment_mode,
        id: attribute(request, "Id"),
        body,
    })
}

/// Reads a cXML request document. A syntax error names the line and column, a
/// missing part the element path (`cXML/Header/Sender/Credential[1]/Identity`).
pub fn read(text: &str) -> Result<Document, FormatError> {
    let options = XmlOptions {
        arrays: ARRAYS.iter().map(|name| (*name).to_owned()).collect(),
    };
    let document = xml::decode(text, &options).map_err(|error| match error {
        FormatError::Parse {
            line,
            column,
            message,
            ..
        } => FormatError::Parse {
            format: FORMAT,
            line,
            column,
            message,
        },
        other => other,
    })?;
    let Some(envelope) = document.get("cXML") else {
        let root = document.as_object().and_then(|f| f.keys().next().cloned());
        return Err(at(
            "/",
            format!(
                "the root element is `{}`, not `cXML`",
                root.unwrap_or_default()
            ),
        ));
    };
    let required_attribute = |name: &str| {
        attribute(envelope, name).ok_or_else(|| at(&format!("cXML/@{name}"), "is missing"))
    };
    Ok(Document {
        payload_id: Some(required_attribute("payloadID")?),
        timestamp: Some(required_attribute("timestamp")?),
        version: attribute(envelope, "version"),
        lang: attribute(envelope, "lang"),
        header: header(envelope)?,
        request: request(envelope)?,
    })
}

/// [`read`], as the JSON shape of the module documentation.
pub fn decode(text: &str) -> Result<Value, FormatError> {
    read(text).map(|document| document.to_json())
}

/// A payloadID: `<milliseconds>.<random>@switchyard` (the spec's `datetime.random@host`).
pub fn new_payload_id() -> String {
    format!(
        "{}.{}@switchyard",
        chrono::Utc::now().timestamp_millis(),
        uuid::Uuid::now_v7().simple()
    )
}

/// Now, as cXML writes a timestamp (ISO 8601 with the offset).
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn prolog(version: &str, dtd: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE cXML SYSTEM \"http://xml.cxml.org/schemas/cXML/{version}/{dtd}\">\n"
    )
}

fn credentials_xml(credentials: &[Credential]) -> Value {
    let written: Vec<Value> = credentials
        .iter()
        .map(|credential| {
            let mut fields = Map::new();
            fields.insert("@domain".into(), json!(credential.domain));
            if let Some(kind) = &credential.kind {
                fields.insert("@type".into(), json!(kind));
            }
            fields.insert("Identity".into(), json!(credential.identity));
            for (name, secret) in [
                ("SharedSecret", &credential.shared_secret),
                ("DigitalSignature", &credential.digital_signature),
                ("CredentialMac", &credential.credential_mac),
            ] {
                if let Some(secret) = secret.as_ref().filter(|s| !s.is_masked()) {
                    fields.insert(name.into(), json!(secret.expose()));
                }
            }
            Value::Object(fields)
        })
        .collect();
    json!({"Credential": written})
}

/// Writes `value` (the JSON shape of the module documentation) as a cXML document.
pub fn encode(value: &Value) -> Result<String, FormatError> {
    let document: Document =
        serde_json::from_value(value.clone()).map_err(|e| FormatError::Encode {
            format: FORMAT,
            message: format!("the value is not a cXML document: {e}"),
        })?;
    let version = document.version.as_deref().unwrap_or(DEFAULT_VERSION);
    let mut envelope = Map::new();
    let payload_id = document.payload_id.clone().unwrap_or_else(new_payload_id);
    envelope.insert("@payloadID".into(), json!(payload_id));
    let timestamp = document.timestamp.clone().unwrap_or_else(now);
    envelope.insert("@timestamp".into(), json!(timestamp));
    envelope.insert("@version".into(), json!(version));
    if let Some(lang) = &document.lang {
        envelope.insert("@xml:lang".into(), json!(lang));
    }
    let header = &document.header;
    let mut sender = credentials_xml(&header.sender.credentials);
    sender["UserAgent"] = json!(header.sender.user_agent);
    envelope.insert(
        "Header".into(),
        json!({
            "From": credentials_xml(&header.from.credentials),
            "To": credentials_xml(&header.to.credentials),
            "Sender": sender,
        }),
    );
    let request = &document.request;
    let mut fields = Map::new();
    let mode = match request.deployment_mode {
        DeploymentMode::Production => "production",
        DeploymentMode::Test => "test",
    };
    fields.insert("@deploymentMode".into(), json!(mode));
    if let Some(id) = &request.id {
        fields.insert("@Id".into(), json!(id));
    }
    fields.insert(request.kind.name().into(), request.body.clone());
    envelope.insert("Request".into(), Value::Object(fields));
    let mut out = prolog(version, request.kind.dtd());
    xml::element_ordered(&mut out, "cXML", &Value::Object(envelope), children)?;
    Ok(out)
}

/// A cXML `Response` with `Status code text` and, for a refusal, the reason as the
/// Status's content. `payload_id` is the request's, echoed (a new one without it).
pub fn response(
    payload_id: Option<&str>,
    version: Option<&str>,
    code: u16,
    text: &str,
    reason: Option<&str>,
) -> String {
    let version = version.unwrap_or(DEFAULT_VERSION);
    let mut status = Map::new();
    status.insert("@code".into(), json!(code.to_string()));
    status.insert("@text".into(), json!(text));
    if let Some(reason) = reason {
        status.insert("#text".into(), json!(reason));
    }
    let envelope = json!({
        "@payloadID": payload_id.map_or_else(new_payload_id, str::to_owned),
        "@timestamp": now(),
        "@version": version,
        "Response": {"Status": status},
    });
    let mut out = prolog(version, "cXML.dtd");
    // The names are fixed and valid: writing cannot fail.
    let _ = xml::element_ordered(&mut out, "cXML", &envelope, children);
    out
}

#[cfg(test)]
#[path = "cxml_tests.rs"]
mod tests;
