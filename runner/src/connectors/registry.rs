//! The one place that turns a compiled Route into its connectors. A new connection kind
//! adds a folder beside `http/` and an arm here.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_crds::catalog::{Catalog, CompiledRoute, Key};
use switchyard_crds::problem::Problem;

use super::database::{DatabasePool, DatabaseSink, DatabaseSource};
use super::files::{FileSink, FileSource, FileStore};
use super::http::{HttpEndpoint, HttpSink, HttpSource};
use super::soap::{SoapEndpoint, SoapSink, SoapSource};
use super::{Sink, Source};
use crate::secrets::SecretSource;

/// Every Connection of a catalog, resolved once and shared by the routes that use it.
#[derive(Default)]
pub struct Connections {
    http: HashMap<Key, Arc<HttpEndpoint>>,
    databases: HashMap<Key, Arc<DatabasePool>>,
    files: HashMap<Key, Arc<FileStore>>,
    soap: HashMap<Key, Arc<SoapEndpoint>>,
}

fn insert<T, E: std::fmt::Display>(
    map: &mut HashMap<Key, Arc<T>>,
    key: &Key,
    built: Result<T, E>,
) -> Result<(), String> {
    let value = built.map_err(|e| e.to_string())?;
    map.insert(key.clone(), Arc::new(value));
    Ok(())
}

fn get<T>(map: &HashMap<Key, Arc<T>>, namespace: &str, name: &str) -> Result<Arc<T>, String> {
    map.get(&(namespace.to_owned(), name.to_owned()))
        .cloned()
        .ok_or_else(|| format!("field `spec`: Connection `{name}` could not be built"))
}

impl Connections {
    /// The HTTP Connection `name` of `namespace`, if it was built (lookups share it with
    /// the routes, limits included).
    pub fn http_endpoint(&self, namespace: &str, name: &str) -> Result<Arc<HttpEndpoint>, String> {
        get(&self.http, namespace, name)
    }

    /// The database Connection `name` of `namespace`, if it was built.
    pub fn database_pool(&self, namespace: &str, name: &str) -> Result<Arc<DatabasePool>, String> {
        get(&self.databases, namespace, name)
    }

    /// Every Connection that was built, with its kind (`http`, `database`,
    /// `fileSystem`, `soap`), in order.
    pub fn kinds(&self) -> Vec<(Key, &'static str)> {
        let mut kinds: Vec<(Key, &'static str)> = self
            .http
            .keys()
            .map(|k| (k.clone(), "http"))
            .chain(self.databases.keys().map(|k| (k.clone(), "database")))
            .chain(self.files.keys().map(|k| (k.clone(), "fileSystem")))
            .chain(self.soap.keys().map(|k| (k.clone(), "soap")))
            .collect();
        kinds.sort();
        kinds
    }

    /// Probes every Connection that can be checked without moving data (HTTP: a GET on
    /// the base URL; databases: a ping).
    pub async fn probe_all(&self) -> Vec<(Key, super::Probe)> {
        let keys = self
            .http
            .keys()
            .chain(self.databases.keys())
            .cloned()
            .collect::<Vec<_>>();
        let mut results = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(probe) = self.probe(&key).await {
                results.push((key, probe));
            }
        }
        results
    }

    /// Probes one Connection; `None` when there is no such Connection or its kind cannot
    /// be checked without moving data.
    pub async fn probe(&self, key: &Key) -> Option<super::Probe> {
        if let Some(endpoint) = self.http.get(key) {
            return Some(endpoint.probe().await);
        }
        let pool = self.databases.get(key)?;
        Some(match pool.ping().await {
            Ok(()) => super::Probe {
                ok: true,
                message: "the database answers".into(),
            },
            Err(error) => super::Probe {
                ok: false,
                message: crate::redact::excerpt(
                    &format!("the database does not answer: {error}"),
                    crate::redact::SERVER_MESSAGE_CHARS,
                ),
            },
        })
    }

    /// Resolves every Connection (secrets, clients, pools); a Connection that cannot be
    /// built is reported and left out.
    pub fn build(catalog: &Catalog, secrets: &SecretSource, problems: &mut Vec<Problem>) -> Self {
        let mut connections = Self::default();
        for (key, connection) in &catalog.connections {
            let namespace = &key.0;
            let spec = &connection.spec;
            let built = if let Some(http) = &spec.http {
                insert(
                    &mut connections.http,
                    key,
                    HttpEndpoint::new(http, namespace, secrets),
                )
            } else if let Some(database) = &spec.database {
                insert(
                    &mut connections.databases,
                    key,
                    DatabasePool::new(database, namespace, secrets),
                )
            } else if let Some(files) = &spec.file_system {
                insert(
                    &mut connections.files,
                    key,
                    FileStore::new(files, namespace, secrets),
                )
            } else if let Some(soap) = &spec.soap {
                insert(
                    &mut connections.soap,
                    key,
                    SoapEndpoint::new(soap, namespace, secrets),
                )
            } else {
                Ok(())
            };
            if let Err(error) = built {
                problems.push(crate::runtime::problem(
                    &connection.origin,
                    &connection.id,
                    &error,
                ));
            }
        }
        connections
    }

    /// The incoming side of a polling route; `None` for webhook routes.
    pub fn source(
        &self,
        route: &CompiledRoute,
        secrets: &SecretSource,
    ) -> Result<Option<Box<dyn Source>>, String> {
        let Some(poll) = &route.spec.incoming.poll else {
            return Ok(None);
        };
        let namespace = route.namespace();
        let name = &poll.connection;
        let source: Box<dyn Source> = if let Some(query) = &poll.query {
            Box::new(DatabaseSource::new(
                get(&self.databases, namespace, name)?,
                query,
            ))
        } else if let Some(files) = &poll.files {
            Box::new(
                FileSource::new(get(&self.files, namespace, name)?, files)
                    .map_err(|e| e.to_string())?,
            )
        } else if let Some(soap) = &poll.soap {
            Box::new(
                SoapSource::new(get(&self.soap, namespace, name)?, soap)
                    .map_err(|e| e.to_string())?,
            )
        } else {
            Box::new(
                HttpSource::new(get(&self.http, namespace, name)?, poll, namespace, secrets)
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(Some(source))
    }

    /// The outgoing side of a route.
    pub fn sink(
        &self,
        route: &CompiledRoute,
        secrets: &SecretSource,
    ) -> Result<Box<dyn Sink>, String> {
        let namespace = route.namespace();
        let outgoing = &route.spec.outgoing;
        let name = &outgoing.connection;
        Ok(if let Some(database) = &outgoing.database {
            Box::new(DatabaseSink::new(
                get(&self.databases, namespace, name)?,
                database,
            )?)
        } else if let Some(file) = &outgoing.file {
            Box::new(
                FileSink::new(get(&self.files, namespace, name)?, file)
                    .map_err(|e| e.to_string())?,
            )
        } else if let Some(soap) = &outgoing.soap {
            Box::new(
                SoapSink::new(
                    get(&self.soap, namespace, name)?,
                    soap,
                    "spec.outgoing.soap",
                )
                .map_err(|e| e.to_string())?,
            )
        } else {
            Box::new(
                HttpSink::new(
                    get(&self.http, namespace, name)?,
                    &route.delivery,
                    namespace,
                    secrets,
                    // After-delivery steps and `await.correlation` read the answer.
                    !route.after_delivery_steps.is_empty()
                        || route.spec.outgoing.awaiting.is_some(),
                )
                .map_err(|e| e.to_string())?,
            )
        })
    }
}
