//! Calling a SOAP operation per task.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::v1alpha1::SoapCall;

use super::{SoapEndpoint, SoapError};
use crate::connectors::{DeliveryError, DeliveryReport, Sink};
use crate::transform::JqProgram;

pub struct SoapSink {
    endpoint: Arc<SoapEndpoint>,
    call: SoapCall,
    body: Option<JqProgram>,
}

impl SoapSink {
    pub fn new(
        endpoint: Arc<SoapEndpoint>,
        call: &SoapCall,
        field: &str,
    ) -> Result<Self, SoapError> {
        let body = call
            .body
            .as_deref()
            .map(JqProgram::compile)
            .transpose()
            .map_err(|e| SoapError::Config {
                field: format!("{field}.body"),
                message: e.to_string(),
            })?;
        Ok(Self {
            endpoint,
            call: call.clone(),
            body,
        })
    }

    /// The operation's content for `item`.
    pub(crate) fn content(&self, item: &Value) -> Result<Value, SoapError> {
        match &self.body {
            None => Ok(item.clone()),
            Some(program) => program
                .first(item.clone())
                .map(Option::unwrap_or_default)
                .map_err(|e| SoapError::Envelope(e.to_string())),
        }
    }
}

#[async_trait]
impl Sink for SoapSink {
    async fn send(
        &self,
        item: &Value,
        _idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        let started = Instant::now();
        let content = self
            .content(item)
            .map_err(|e| DeliveryError::Request(e.to_string()))?;
        match self.endpoint.call(&self.call, &content).await {
            Ok(answer) => Ok(DeliveryReport {
                summary: format!(
                    "SOAP {} → OK in {} ms",
                    self.call.operation,
                    started.elapsed().as_millis()
                ),
                response: Some(answer),
            }),
            Err(error) if is_retriable(&error) => Err(DeliveryError::Unavailable {
                message: format!("SOAP {}: {error}", self.call.operation),
                retry_after: None,
            }),
            Err(error) => Err(DeliveryError::Rejected(format!(
                "SOAP {}: {error}",
                self.call.operation
            ))),
        }
    }
}

/// Whether another attempt may succeed: transport failures and HTTP 5xx/429 without a
/// fault are transient. A fault is the service's answer about this item, so it is
/// permanent, as are envelopes that cannot be built and responses that are not SOAP.
pub fn is_retriable(error: &SoapError) -> bool {
    match error {
        SoapError::Transport(_) => true,
        SoapError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
        SoapError::Config { .. }
        | SoapError::Envelope(_)
        | SoapError::Redirect(_)
        | SoapError::Fault { .. }
        | SoapError::Response(_) => false,
    }
}
