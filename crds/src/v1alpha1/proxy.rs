//! The synchronous HTTP proxy of a Route (`spec.incoming.proxy`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Step, WebhookAuth};

/// A synchronous HTTP proxy. Every request to `/proxy/{namespace}/{route}/{path}` (any
/// method, with its query string) is forwarded at once through the Route's outgoing
/// HTTP Connection (`spec.outgoing.connection`: its base URL joined with `path`, its
/// headers, credentials and TLS), and the receiver's answer is returned as it is
/// (status, headers, streamed body). Hop-by-hop headers and the caller's credentials
/// (`Authorization`, `X-Switchyard-Token`, the HMAC signature header, `Cookie`) are not
/// forwarded; hop-by-hop headers and `Set-Cookie` are not returned. Every call is
/// recorded as a task, `done` or `failed`, with method, path, status, duration and the
/// start of both bodies. A proxy Route queues nothing: `spec.outgoing` names only the
/// Connection, and `request` and `response` here take the place of
/// `spec.transformers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Proxy {
    /// How callers authenticate, as for webhooks (a token, or an HMAC signature of the
    /// body, which is then read whole). Absent: anyone who can reach the port may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<WebhookAuth>,
    /// Steps applied to a JSON request body before it is forwarded (a body that is not
    /// JSON is refused with 422; an empty body passes unchanged). With steps, the body
    /// is read whole (at most 32 MiB); without, it is streamed. The result must be one
    /// value (several are sent as an array).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request: Vec<Step>,
    /// Steps applied to the JSON body of a successful (2xx) answer before it is
    /// returned; other answers pass unchanged. With steps, the answer is read whole (at
    /// most 32 MiB); without, it is streamed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response: Vec<Step>,
    /// How many bytes of each request and response body the call's task records
    /// (secrets masked), 0 to 1048576. Absent: 4096.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 1_048_576))]
    pub record_body_bytes: Option<u32>,
    /// How long the receiver may take, from the request to the last byte of its answer,
    /// in seconds (1 to 3600); past it the caller gets `504`. Absent: the Connection's
    /// `timeoutSeconds` (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: Option<u32>,
}

/// Default of `Proxy::record_body_bytes`.
pub const DEFAULT_PROXY_RECORD_BYTES: u32 = 4_096;
/// Upper bound of `Proxy::record_body_bytes`: a task is a row, not a blob store.
pub const MAX_PROXY_RECORD_BYTES: u32 = 1_048_576;
/// Upper bound of `Proxy::timeout_seconds`.
pub const MAX_PROXY_TIMEOUT_SECONDS: u32 = 3_600;
