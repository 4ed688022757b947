//! The database kind in the registry: a pool per Connection ([`DatabasePool`]), a query
//! poll ([`DatabaseSource`]), table or statement writes ([`DatabaseSink`]) and a probe
//! (a ping).

use std::sync::Arc;

use async_trait::async_trait;
use switchyard_crds::catalog::CompiledRoute;
use switchyard_crds::problem::FieldProblem;
use switchyard_crds::v1alpha1::{DatabaseConnection, KindName, Poll};

use super::{DatabasePool, DatabaseSink, DatabaseSource, PoolError};
use crate::connectors::registry::{Connector, required};
use crate::connectors::{Probe, Sink, Source};
use crate::secrets::SecretSource;

/// One database Connection.
pub struct DatabaseConnector(Arc<DatabasePool>);

impl DatabaseConnector {
    pub fn new(
        spec: &DatabaseConnection,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, FieldProblem> {
        Ok(Self(Arc::new(DatabasePool::new(spec, namespace, secrets)?)))
    }
}

#[async_trait]
impl Connector for DatabaseConnector {
    fn kind(&self) -> KindName {
        KindName::Database
    }

    fn source(
        &self,
        _route: &CompiledRoute,
        poll: &Poll,
        _secrets: &SecretSource,
    ) -> Result<Box<dyn Source>, FieldProblem> {
        let query = required(poll.query.as_ref(), "spec.incoming.poll.query", self.kind())?;
        Ok(Box::new(DatabaseSource::new(self.0.clone(), query)))
    }

    fn sink(
        &self,
        route: &CompiledRoute,
        _secrets: &SecretSource,
    ) -> Result<Box<dyn Sink>, FieldProblem> {
        let spec = required(
            route.spec.outgoing.database.as_ref(),
            "spec.outgoing.database",
            self.kind(),
        )?;
        Ok(Box::new(DatabaseSink::new(self.0.clone(), spec)?))
    }

    async fn probe(&self) -> Option<Probe> {
        Some(match self.0.ping().await {
            Ok(()) => Probe {
                ok: true,
                message: "the database answers".into(),
            },
            Err(error) => Probe {
                ok: false,
                message: crate::redact::excerpt(
                    &format!("the database does not answer: {error}"),
                    crate::redact::SERVER_MESSAGE_CHARS,
                ),
            },
        })
    }

    fn database(&self) -> Option<Arc<DatabasePool>> {
        Some(self.0.clone())
    }
}

impl From<PoolError> for FieldProblem {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Secret(source) => FieldProblem::new("spec.database.password", source),
            PoolError::Url(message) => FieldProblem::new("spec.database.url", message),
        }
    }
}
