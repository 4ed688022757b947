//! The HTTP kind in the registry: the Connection resolved once ([`HttpEndpoint`]), a
//! poll ([`HttpSource`]), a delivery ([`HttpSink`]) and a probe (a GET on the base URL).

use std::sync::Arc;

use async_trait::async_trait;
use switchyard_crds::catalog::CompiledRoute;
use switchyard_crds::problem::FieldProblem;
use switchyard_crds::v1alpha1::{HttpConnection, KindName, Poll};

use super::{EndpointError, HttpEndpoint, HttpSink, HttpSource};
use crate::connectors::registry::Connector;
use crate::connectors::{Probe, Sink, Source};
use crate::secrets::SecretSource;

/// One HTTP Connection.
pub struct HttpConnector(Arc<HttpEndpoint>);

impl HttpConnector {
    pub fn new(
        spec: &HttpConnection,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, FieldProblem> {
        Ok(Self(Arc::new(HttpEndpoint::new(spec, namespace, secrets)?)))
    }
}

#[async_trait]
impl Connector for HttpConnector {
    fn kind(&self) -> KindName {
        KindName::Http
    }

    fn source(
        &self,
        route: &CompiledRoute,
        poll: &Poll,
        secrets: &SecretSource,
    ) -> Result<Box<dyn Source>, FieldProblem> {
        let source = HttpSource::new(self.0.clone(), poll, route.namespace(), secrets)?;
        Ok(Box::new(source))
    }

    fn sink(
        &self,
        route: &CompiledRoute,
        secrets: &SecretSource,
    ) -> Result<Box<dyn Sink>, FieldProblem> {
        // After-delivery steps and `await.correlation` read the answer.
        let keep_response =
            !route.after_delivery_steps.is_empty() || route.spec.outgoing.awaiting.is_some();
        let sink = HttpSink::new(
            self.0.clone(),
            &route.delivery,
            route.namespace(),
            secrets,
            keep_response,
        )?;
        Ok(Box::new(sink))
    }

    async fn probe(&self) -> Option<Probe> {
        Some(self.0.probe().await)
    }

    fn http(&self) -> Option<Arc<HttpEndpoint>> {
        Some(self.0.clone())
    }
}

impl From<EndpointError> for FieldProblem {
    fn from(error: EndpointError) -> Self {
        match error {
            EndpointError::Secret { field, source } => FieldProblem::new(field, source),
            EndpointError::Invalid { field, message } => FieldProblem::new(field, message),
        }
    }
}
