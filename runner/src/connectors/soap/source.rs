//! Polling a SOAP operation: the response (as JSON) at `itemsPointer` are the items.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::v1alpha1::SoapCall;

use super::{SoapEndpoint, SoapError, SoapSink};
use crate::connectors::{Source, SourceError};

pub struct SoapSource {
    endpoint: Arc<SoapEndpoint>,
    call: SoapCall,
    body: SoapSink,
}

impl SoapSource {
    pub fn new(endpoint: Arc<SoapEndpoint>, call: &SoapCall) -> Result<Self, SoapError> {
        Ok(Self {
            body: SoapSink::new(endpoint.clone(), call, "spec.incoming.poll.soap")?,
            endpoint,
            call: call.clone(),
        })
    }
}

#[async_trait]
impl Source for SoapSource {
    async fn fetch(&self) -> Result<Vec<Value>, SourceError> {
        let fail = |e: SoapError| SourceError(format!("SOAP {}: {e}", self.call.operation));
        let content = self.body.content(&Value::Null).map_err(fail)?;
        let response = self
            .endpoint
            .call(&self.call, &content)
            .await
            .map_err(fail)?;
        let found = match &self.call.items_pointer {
            Some(pointer) => response.pointer(pointer).cloned().unwrap_or(Value::Null),
            None => response,
        };
        Ok(match found {
            Value::Null => Vec::new(),
            Value::Array(items) => items,
            other => vec![other],
        })
    }
}
