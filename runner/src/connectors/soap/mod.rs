//! SOAP connections: an envelope built from the item (SOAP 1.1 or 1.2), WS-Security
//! UsernameToken and custom header blocks, SOAPAction; the response body converted to
//! JSON; a fault becomes a task failure with its code and string. Bodies are written
//! and read by [`crate::formats::xml`], the convention every XML in Switchyard follows.

mod endpoint;
mod envelope;
mod sink;
mod source;
#[cfg(test)]
mod tests;

pub use endpoint::SoapEndpoint;
pub use sink::{SoapSink, is_retriable};
pub use source::SoapSource;

/// Errors of a SOAP call.
#[derive(Debug, thiserror::Error)]
pub enum SoapError {
    #[error("field `{field}`: {message}")]
    Config { field: String, message: String },
    #[error("cannot build the envelope: {0}")]
    Envelope(String),
    #[error("{0}")]
    Transport(String),
    /// A redirect the Connection does not follow.
    #[error("{0}")]
    Redirect(String),
    #[error("HTTP {status} without a SOAP fault: {body}")]
    Status { status: u16, body: String },
    #[error("SOAP fault {code}: {string}")]
    Fault { code: String, string: String },
    #[error("the response is not a SOAP envelope: {0}")]
    Response(String),
}

/// The shared HTTP client's configuration errors, with their field.
impl From<crate::connectors::http::EndpointError> for SoapError {
    fn from(error: crate::connectors::http::EndpointError) -> Self {
        use crate::connectors::http::EndpointError;
        match error {
            EndpointError::Secret { field, source } => Self::Config {
                field,
                message: source.to_string(),
            },
            EndpointError::Invalid { field, message } => Self::Config { field, message },
        }
    }
}

impl SoapError {
    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Config { .. } => "soap_config",
            Self::Envelope(_) => "soap_envelope",
            Self::Transport(_) => "soap_transport",
            Self::Redirect(_) => "soap_redirect",
            Self::Status { .. } => "soap_status",
            Self::Fault { .. } => "soap_fault",
            Self::Response(_) => "soap_response",
        }
    }
}
