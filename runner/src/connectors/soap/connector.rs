//! The SOAP kind in the registry: a [`SoapEndpoint`] per Connection, an operation polled
//! ([`SoapSource`]) or called per task ([`SoapSink`]). A SOAP service is not probed: no
//! call is free of side effects in general.

use std::sync::Arc;

use async_trait::async_trait;
use switchyard_crds::catalog::CompiledRoute;
use switchyard_crds::problem::FieldProblem;
use switchyard_crds::v1alpha1::{KindName, Poll, SoapConnection};

use super::{SoapEndpoint, SoapError, SoapSink, SoapSource};
use crate::connectors::registry::{Connector, required};
use crate::connectors::{Probe, Sink, Source};
use crate::secrets::SecretSource;

/// One SOAP Connection.
pub struct SoapConnector(Arc<SoapEndpoint>);

impl SoapConnector {
    pub fn new(
        spec: &SoapConnection,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, FieldProblem> {
        Ok(Self(Arc::new(SoapEndpoint::new(spec, namespace, secrets)?)))
    }
}

#[async_trait]
impl Connector for SoapConnector {
    fn kind(&self) -> KindName {
        KindName::Soap
    }

    fn source(
        &self,
        _route: &CompiledRoute,
        poll: &Poll,
        _secrets: &SecretSource,
    ) -> Result<Box<dyn Source>, FieldProblem> {
        let call = required(poll.soap.as_ref(), "spec.incoming.poll.soap", self.kind())?;
        Ok(Box::new(SoapSource::new(self.0.clone(), call)?))
    }

    fn sink(
        &self,
        route: &CompiledRoute,
        _secrets: &SecretSource,
    ) -> Result<Box<dyn Sink>, FieldProblem> {
        let field = "spec.outgoing.soap";
        let call = required(route.spec.outgoing.soap.as_ref(), field, self.kind())?;
        Ok(Box::new(SoapSink::new(self.0.clone(), call, field)?))
    }

    async fn probe(&self) -> Option<Probe> {
        None
    }
}

impl From<SoapError> for FieldProblem {
    fn from(error: SoapError) -> Self {
        match error {
            SoapError::Config { field, message } => FieldProblem::new(field, message),
            other => FieldProblem::whole(other),
        }
    }
}
