//! The one list of connection kinds. [`connector`] turns a Connection into the connector
//! of its kind (each kind a folder beside this file, with its config resolution, source,
//! sink and probe behind [`Connector`]); [`Connections`] holds one per Connection and
//! hands the routes their sources and sinks. A new kind is a folder and an arm in
//! [`connector`].

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use switchyard_crds::catalog::{Catalog, CompiledRoute, Key};
use switchyard_crds::problem::{FieldProblem, Problem};
use switchyard_crds::v1alpha1::{ConnectionKind, KindName, Poll};

use super::database::{DatabaseConnector, DatabasePool};
use super::files::FileConnector;
use super::http::{HttpConnector, HttpEndpoint};
use super::soap::SoapConnector;
use super::{Probe, Sink, Source};
use crate::secrets::SecretSource;

/// One Connection, resolved once (secrets, clients, pools) and shared by the routes that
/// use it.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The kind, as the manifest names it.
    fn kind(&self) -> KindName;

    /// The incoming side of `route`, which polls this Connection with `poll`.
    fn source(
        &self,
        route: &CompiledRoute,
        poll: &Poll,
        secrets: &SecretSource,
    ) -> Result<Box<dyn Source>, FieldProblem>;

    /// The outgoing side of `route`, which delivers through this Connection.
    fn sink(
        &self,
        route: &CompiledRoute,
        secrets: &SecretSource,
    ) -> Result<Box<dyn Sink>, FieldProblem>;

    /// Checks the system without moving data; `None` when the kind cannot.
    async fn probe(&self) -> Option<Probe>;

    /// The HTTP endpoint, for HTTP Connections (lookups and proxies share it).
    fn http(&self) -> Option<Arc<HttpEndpoint>> {
        None
    }

    /// The pool, for database Connections (lookups share it).
    fn database(&self) -> Option<Arc<DatabasePool>> {
        None
    }
}

/// The connector of a Connection of `kind`: the list of kinds.
pub fn connector(
    kind: ConnectionKind<'_>,
    namespace: &str,
    secrets: &SecretSource,
) -> Result<Arc<dyn Connector>, FieldProblem> {
    Ok(match kind {
        ConnectionKind::Http(spec) => Arc::new(HttpConnector::new(spec, namespace, secrets)?),
        ConnectionKind::Database(spec) => {
            Arc::new(DatabaseConnector::new(spec, namespace, secrets)?)
        }
        ConnectionKind::FileSystem(spec) => Arc::new(FileConnector::new(spec, namespace, secrets)?),
        ConnectionKind::Soap(spec) => Arc::new(SoapConnector::new(spec, namespace, secrets)?),
    })
}

/// The block a Route needs for a Connection of `kind` at `field`; validation makes sure
/// it is there, and its absence is an error here too, never a default.
pub(crate) fn required<'a, T>(
    block: Option<&'a T>,
    field: &str,
    kind: KindName,
) -> Result<&'a T, FieldProblem> {
    block.ok_or_else(|| FieldProblem::new(field, format!("is required: the Connection is {kind}")))
}

/// Why a route or step cannot use the Connection it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// No such Connection, or it had problems of its own (reported with it).
    #[error("Connection `{name}` could not be built")]
    NotBuilt { name: String },
    /// The Connection is of another kind than the use needs.
    #[error("Connection `{name}` is {kind}, not {wanted}")]
    WrongKind {
        name: String,
        kind: KindName,
        wanted: KindName,
    },
}

impl ConnectionError {
    /// A static label for metrics and reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::NotBuilt { .. } => "connection_not_built",
            Self::WrongKind { .. } => "connection_wrong_kind",
        }
    }
}

/// Every Connection of a catalog, resolved once and shared by the routes that use it.
#[derive(Default)]
pub struct Connections {
    built: BTreeMap<Key, Arc<dyn Connector>>,
}

impl Connections {
    /// Resolves every Connection; a Connection that cannot be built is reported and
    /// left out.
    pub fn build(catalog: &Catalog, secrets: &SecretSource, problems: &mut Vec<Problem>) -> Self {
        let mut built = BTreeMap::new();
        for (key, connection) in &catalog.connections {
            let result = connection
                .spec
                .kind()
                .map_err(|error| FieldProblem::new("spec", error))
                .and_then(|kind| connector(kind, &key.0, secrets));
            match result {
                Ok(connector) => {
                    built.insert(key.clone(), connector);
                }
                Err(problem) => problems.push(problem.at(&connection.origin, &connection.id)),
            }
        }
        Self { built }
    }

    /// The Connection `name` of `namespace`, if it was built.
    pub fn get(&self, namespace: &str, name: &str) -> Result<&Arc<dyn Connector>, ConnectionError> {
        self.built
            .get(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| ConnectionError::NotBuilt {
                name: name.to_owned(),
            })
    }

    fn of_kind<T>(
        &self,
        namespace: &str,
        name: &str,
        wanted: KindName,
        view: impl FnOnce(&dyn Connector) -> Option<T>,
    ) -> Result<T, ConnectionError> {
        let connector = self.get(namespace, name)?;
        view(connector.as_ref()).ok_or_else(|| ConnectionError::WrongKind {
            name: name.to_owned(),
            kind: connector.kind(),
            wanted,
        })
    }

    /// The HTTP Connection `name` of `namespace` (lookups share it with the routes,
    /// limits included).
    pub fn http_endpoint(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<HttpEndpoint>, ConnectionError> {
        self.of_kind(namespace, name, KindName::Http, |c| c.http())
    }

    /// The database Connection `name` of `namespace`.
    pub fn database_pool(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<DatabasePool>, ConnectionError> {
        self.of_kind(namespace, name, KindName::Database, |c| c.database())
    }

    /// Every Connection that was built, with its kind, in order.
    pub fn kinds(&self) -> Vec<(Key, KindName)> {
        self.built
            .iter()
            .map(|(key, connector)| (key.clone(), connector.kind()))
            .collect()
    }

    /// Probes every Connection that can be checked without moving data (HTTP: a GET on
    /// the base URL; databases: a ping).
    pub async fn probe_all(&self) -> Vec<(Key, Probe)> {
        let mut results = Vec::new();
        for (key, connector) in &self.built {
            if let Some(probe) = connector.probe().await {
                results.push((key.clone(), probe));
            }
        }
        results
    }

    /// Probes one Connection; `None` when there is no such Connection or its kind cannot
    /// be checked without moving data.
    pub async fn probe(&self, key: &Key) -> Option<Probe> {
        self.built.get(key)?.probe().await
    }

    /// The incoming side of a polling route; `None` for the other routes.
    pub fn source(
        &self,
        route: &CompiledRoute,
        secrets: &SecretSource,
    ) -> Result<Option<Box<dyn Source>>, FieldProblem> {
        let Some(poll) = &route.spec.incoming.poll else {
            return Ok(None);
        };
        let connector = self
            .get(route.namespace(), &poll.connection)
            .map_err(|e| FieldProblem::new("spec.incoming.poll.connection", e))?;
        connector.source(route, poll, secrets).map(Some)
    }

    /// The outgoing side of a route.
    pub fn sink(
        &self,
        route: &CompiledRoute,
        secrets: &SecretSource,
    ) -> Result<Box<dyn Sink>, FieldProblem> {
        let connector = self
            .get(route.namespace(), &route.spec.outgoing.connection)
            .map_err(|e| FieldProblem::new("spec.outgoing.connection", e))?;
        connector.sink(route, secrets)
    }
}
