//! HTTP/REST connections: a shared [`HttpEndpoint`] per Connection, a polling
//! [`HttpSource`] with pagination and a delivering [`HttpSink`].

mod auth;
mod batch;
mod client;
mod connector;
mod endpoint;
mod limits;
mod redirect;
mod sink;
mod source;
mod template;

pub use auth::{AuthError, Authenticator};
pub use client::{ClientContext, build_client};
pub use connector::HttpConnector;
pub use endpoint::{
    EndpointError, HttpEndpoint, describe_reqwest_error, resolve_headers, wire_method,
};
pub use redirect::{RedirectPolicy, SendError, send};
pub use sink::{HttpSink, parse_retry_after, status_is_retriable};
pub use source::{HttpSource, PollError};
pub use template::{TemplateError, UrlTemplate};
