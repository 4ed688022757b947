//! The synchronous HTTP proxy of a Route (`spec.incoming.proxy`): a call to
//! `/proxy/{namespace}/{route}/{path}` goes to the route's outgoing HTTP Connection at
//! once, the receiver's answer goes back as it is, and the call is recorded as a task
//! (`done` or `failed`).
//!
//! - **Streaming.** Without steps, neither body is held in memory: the request streams
//!   to the receiver and the answer back to the caller, and only the first
//!   `recordBodyBytes` of each are kept for the task. With steps (or an HMAC-signed
//!   caller, whose signature covers the whole body) the body concerned is read whole, up
//!   to [`MAX_BUFFERED_BYTES`].
//! - **Recording.** The task is written when the call is over (the last byte of the
//!   answer sent, or the call failed), through the queue's group commit. Recording never
//!   delays or changes the answer; a queue that cannot commit is logged. Calls refused
//!   before anything is forwarded (unknown route, suspended route, wrong credentials) are
//!   not recorded: anyone could fill the queue with them.
//! - **Failures.** A receiver that cannot be reached gives `502`, one that does not
//!   answer within the time-out `504`, each with an [`crate::api::ErrorBody`] saying why.

mod body;
mod forward;
mod headers;
mod record;

pub use forward::{ReceiverAnswer, handle};

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use switchyard_crds::catalog::CompiledRoute;
use switchyard_crds::problem::FieldProblem;
use switchyard_crds::v1alpha1::DEFAULT_PROXY_RECORD_BYTES;

use crate::connectors::http::HttpEndpoint;
use crate::connectors::registry::Connections;
use crate::connectors::webhook::WebhookAuthenticator;
use crate::secrets::SecretSource;
use crate::transform::{Pipeline, Resources, build_pipeline_with};

/// Largest body read whole (for steps or an HMAC signature): the webhook's bound.
pub const MAX_BUFFERED_BYTES: usize = 32 * 1024 * 1024;

/// A proxy route, ready to forward.
pub struct ProxyRuntime {
    /// The outgoing Connection, shared with its other routes (limits included).
    pub endpoint: Arc<HttpEndpoint>,
    /// How callers authenticate; `None`: anyone may call.
    pub auth: Option<WebhookAuthenticator>,
    /// `spec.incoming.proxy.request`.
    pub request: Pipeline,
    /// `spec.incoming.proxy.response`.
    pub response: Pipeline,
    /// Bytes of each body kept in the task.
    pub record_bytes: usize,
    /// `None`: the Connection's time-out.
    pub timeout: Option<Duration>,
}

impl ProxyRuntime {
    /// The proxy of `route`, if it is a proxy route. Errors name the field.
    pub fn build(
        route: &CompiledRoute,
        connections: &Connections,
        resources: &Resources<'_>,
        secrets: &SecretSource,
    ) -> Result<Option<Self>, FieldProblem> {
        let Some(spec) = &route.spec.incoming.proxy else {
            return Ok(None);
        };
        let namespace = route.namespace();
        let auth = match &spec.auth {
            Some(auth) => {
                WebhookAuthenticator::new_at(auth, "spec.incoming.proxy.auth", namespace, secrets)?
            }
            None => None,
        };
        Ok(Some(Self {
            endpoint: connections
                .http_endpoint(namespace, &route.spec.outgoing.connection)
                .map_err(|e| FieldProblem::new("spec.outgoing.connection", e))?,
            auth,
            request: build_pipeline_with(&route.proxy_steps.request, resources)
                .map_err(|e| FieldProblem::new("spec.incoming.proxy.request", e))?,
            response: build_pipeline_with(&route.proxy_steps.response, resources)
                .map_err(|e| FieldProblem::new("spec.incoming.proxy.response", e))?,
            record_bytes: spec.record_body_bytes.unwrap_or(DEFAULT_PROXY_RECORD_BYTES) as usize,
            timeout: spec
                .timeout_seconds
                .map(|seconds| Duration::from_secs(u64::from(seconds))),
        }))
    }

    /// The caller's credential headers, which are not forwarded.
    fn credential_headers(&self) -> Vec<HeaderName> {
        self.auth
            .as_ref()
            .map(WebhookAuthenticator::credential_headers)
            .unwrap_or_default()
    }

    /// Whether the request body must be read whole before it is forwarded.
    fn buffers_request(&self) -> bool {
        !self.request.is_empty() || self.auth.as_ref().is_some_and(|a| a.needs_body())
    }
}
