//! The one place that turns a compiled Route into its connectors. A new connection kind
//! adds a folder beside `http/` and an arm here.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_crds::catalog::{Catalog, CompiledRoute, Key};
use switchyard_crds::problem::Problem;

use super::http::{HttpEndpoint, HttpSink, HttpSource};
use super::{Sink, Source};
use crate::secrets::SecretSource;

/// Every Connection of a catalog, resolved once and shared by the routes that use it.
#[derive(Default)]
pub struct Connections {
    http: HashMap<Key, Arc<HttpEndpoint>>,
}

impl Connections {
    /// Resolves every Connection (secrets, clients); a Connection that cannot be built
    /// is reported and left out.
    pub fn build(catalog: &Catalog, secrets: &SecretSource, problems: &mut Vec<Problem>) -> Self {
        let mut connections = Self::default();
        for (key, connection) in &catalog.connections {
            if let Some(http) = &connection.spec.http {
                match HttpEndpoint::new(http, &key.0, secrets) {
                    Ok(endpoint) => {
                        connections.http.insert(key.clone(), Arc::new(endpoint));
                    }
                    Err(error) => problems.push(crate::runtime::problem(
                        &connection.origin,
                        &connection.id,
                        &error.to_string(),
                    )),
                }
            }
        }
        connections
    }

    fn http(&self, namespace: &str, name: &str) -> Result<Arc<HttpEndpoint>, String> {
        self.http
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| format!("field `spec`: Connection `{name}` could not be built"))
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
        let endpoint = self.http(route.namespace(), &poll.connection)?;
        let source = HttpSource::new(endpoint, poll, route.namespace(), secrets)
            .map_err(|e| e.to_string())?;
        Ok(Some(Box::new(source)))
    }

    /// The outgoing side of a route.
    pub fn sink(
        &self,
        route: &CompiledRoute,
        secrets: &SecretSource,
    ) -> Result<Box<dyn Sink>, String> {
        let endpoint = self.http(route.namespace(), &route.spec.outgoing.connection)?;
        let sink = HttpSink::new(endpoint, &route.delivery, route.namespace(), secrets)
            .map_err(|e| e.to_string())?;
        Ok(Box::new(sink))
    }
}
