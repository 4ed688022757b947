//! The runnable form of a compiled catalog: pipelines built, secrets resolved, HTTP
//! clients created (one per Connection, shared by its routes).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use switchyard_crds::catalog::{Catalog, CompiledRoute, CompiledValueTable, Key};
use switchyard_crds::problem::{FieldProblem, Problem, Problems};

use crate::connectors::registry::Connections;
use crate::connectors::webhook::{CxmlIntake, WebhookAuthenticator};
use crate::connectors::{Sink, Source};
use crate::queue::RouteKey;
use crate::secrets::SecretSource;
use crate::transform::{Pipeline, Resources, build_pipeline_with};

mod reload;

pub use reload::{LoadedFiles, ReloadRefused, load_tracked, reload, reload_logged};

/// One route, ready to run.
pub struct RouteRuntime {
    pub key: RouteKey,
    pub compiled: CompiledRoute,
    pub incoming: Pipeline,
    pub outgoing: Pipeline,
    /// Runs on `{item, response}` once the receiver accepted an item.
    pub after_delivery: Pipeline,
    /// Set for webhook routes with authentication.
    pub webhook_auth: Option<WebhookAuthenticator>,
    /// Set for webhook routes with `format: cxml`.
    pub cxml: Option<CxmlIntake>,
    /// Set for polling routes.
    pub source: Option<Box<dyn Source>>,
    pub poll_schedule: Option<croner::Cron>,
    pub sink: Box<dyn Sink>,
    /// Set when delivery runs on a schedule instead of in real time.
    pub delivery_schedule: Option<croner::Cron>,
    /// Set when delivered tasks wait for an acknowledgement (`outgoing.await`).
    pub awaiting: Option<crate::waiting::Awaiting>,
    /// Set for proxy routes (`incoming.proxy`): calls are forwarded, nothing is queued.
    pub proxy: Option<crate::proxy::ProxyRuntime>,
    /// The route's metric handles.
    pub metrics: Arc<crate::metrics::RouteMetrics>,
    /// The circuit breaker of the Connection it delivers through, if it has one.
    pub circuit: Option<Arc<crate::circuit::Breaker>>,
}

impl RouteRuntime {
    pub fn is_webhook(&self) -> bool {
        self.compiled.spec.incoming.webhook.is_some()
    }

    pub fn is_proxy(&self) -> bool {
        self.proxy.is_some()
    }

    pub fn suspended(&self) -> bool {
        self.compiled.processing.suspend
    }

    /// The Route whose intake this one takes (`spec.incoming.route`), if any.
    pub fn follows(&self) -> Option<&str> {
        self.compiled.spec.incoming.route.as_deref()
    }

    /// How items come in: `webhook`, `poll`, `route` (another Route's intake) or
    /// `proxy` (calls passed through).
    pub fn incoming_kind(&self) -> &'static str {
        let incoming = &self.compiled.spec.incoming;
        if incoming.webhook.is_some() {
            "webhook"
        } else if incoming.route.is_some() {
            "route"
        } else if incoming.proxy.is_some() {
            "proxy"
        } else {
            "poll"
        }
    }
}

/// Every route of a runner.
#[derive(Default)]
pub struct Runtime {
    pub routes: BTreeMap<RouteKey, Arc<RouteRuntime>>,
    /// Namespaces with at least one resource, for the API.
    pub namespaces: Vec<String>,
    /// Every Connection, shared by the routes (and probed for their status).
    pub connections: Arc<Connections>,
    /// The Routes that take each Route's intake (`spec.incoming.route`), by name.
    pub followers: BTreeMap<RouteKey, Vec<Arc<RouteRuntime>>>,
    /// Notification rules, evaluated by [`crate::notify::run`].
    pub notifications: Vec<Arc<crate::notify::NotificationRuntime>>,
}

impl Runtime {
    pub fn route(&self, namespace: &str, name: &str) -> Option<&Arc<RouteRuntime>> {
        self.routes.get(&RouteKey {
            namespace: namespace.to_owned(),
            route: name.to_owned(),
        })
    }

    /// The Routes that take `key`'s intake.
    pub fn followers(&self, key: &RouteKey) -> &[Arc<RouteRuntime>] {
        self.followers.get(key).map_or(&[], Vec::as_slice)
    }
}

/// Loads, validates and builds the manifests under `paths`. Any problem anywhere fails
/// the whole load: local mode starts all or nothing.
pub fn load(paths: &[PathBuf], secrets: &SecretSource) -> Result<Runtime, Problems> {
    load_with(paths, secrets, &crate::vars::VarFiles::default())
}

/// [`load`] with variables files (the environment's variables count either way).
pub fn load_with(
    paths: &[PathBuf],
    secrets: &SecretSource,
    vars: &crate::vars::VarFiles,
) -> Result<Runtime, Problems> {
    load_tracked(paths, secrets, vars).map(|(runtime, _)| runtime)
}

/// Builds the runtime of every route of a problem-free catalog.
pub fn build(catalog: &Catalog, secrets: &SecretSource) -> Result<Runtime, Vec<Problem>> {
    let mut problems = unresolved_secrets(catalog, secrets);
    if !problems.is_empty() {
        return Err(problems);
    }
    let connections = Connections::build(catalog, secrets, &mut problems);
    let mut runtime = Runtime::default();
    for (key, route) in &catalog.routes {
        match build_route(route, &connections, &catalog.value_tables, secrets) {
            Ok(mut built) => {
                built.circuit = circuit_of(catalog, route);
                runtime.routes.insert(built.key.clone(), Arc::new(built));
            }
            Err(problem) => problems.push(problem.at(&route.origin, &route.id)),
        }
        runtime.namespaces.push(key.0.clone());
    }
    for route in runtime.routes.values() {
        if let Some(parent) = route.follows() {
            let parent = RouteKey {
                namespace: route.key.namespace.clone(),
                route: parent.to_owned(),
            };
            runtime
                .followers
                .entry(parent)
                .or_default()
                .push(route.clone());
        }
    }
    runtime
        .namespaces
        .extend(catalog.connections.keys().map(|k| k.0.clone()));
    runtime.namespaces.sort();
    runtime.namespaces.dedup();
    for key in catalog.connections.keys() {
        crate::metrics::events::circuit_registered(&key.0, &key.1);
    }
    runtime.connections = Arc::new(connections);
    for notification in catalog.notifications.values() {
        match crate::notify::NotificationRuntime::build(notification, secrets) {
            Ok(built) => runtime.notifications.push(Arc::new(built)),
            Err(error) => {
                problems.push(FieldProblem::from(error).at(&notification.origin, &notification.id))
            }
        }
        runtime.namespaces.push(notification.id.namespace.clone());
    }
    runtime.namespaces.sort();
    runtime.namespaces.dedup();
    if problems.is_empty() {
        crate::circuit::retain(&with_circuit_breakers(catalog));
        Ok(runtime)
    } else {
        Err(problems)
    }
}

/// Resolves every secret reference of the catalog (the walk the operator mounts them
/// by) before anything is built, so every missing or empty one is reported at once with
/// its field, and every value is registered with the redactor before it can be used.
fn unresolved_secrets(catalog: &Catalog, secrets: &SecretSource) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (id, origin, refs) in catalog.resource_secret_refs() {
        for reference in refs {
            let value = switchyard_crds::v1alpha1::SecretValue {
                secret_key_ref: reference.selector,
            };
            if let Err(error) = secrets.resolve(&id.namespace, &value) {
                problems.push(FieldProblem::new(reference.field, error).at(origin, id));
            }
        }
    }
    problems
}

/// The circuit breaker of the Connection `route` delivers through, if it has one.
fn circuit_of(catalog: &Catalog, route: &CompiledRoute) -> Option<Arc<crate::circuit::Breaker>> {
    let key = (
        route.namespace().to_owned(),
        route.spec.outgoing.connection.clone(),
    );
    let spec = catalog
        .connections
        .get(&key)?
        .spec
        .circuit_breaker
        .as_ref()?;
    Some(crate::circuit::breaker(
        &key.0,
        &key.1,
        crate::circuit::Settings::of(spec),
    ))
}

/// The Connections of `catalog` that have a circuit breaker.
fn with_circuit_breakers(catalog: &Catalog) -> std::collections::BTreeSet<Key> {
    catalog
        .connections
        .iter()
        .filter(|(_, c)| c.spec.circuit_breaker.is_some())
        .map(|(key, _)| key.clone())
        .collect()
}

fn build_route(
    route: &CompiledRoute,
    connections: &Connections,
    value_tables: &BTreeMap<Key, CompiledValueTable>,
    secrets: &SecretSource,
) -> Result<RouteRuntime, FieldProblem> {
    let namespace = route.namespace();
    let cron = |field: &str, text: &str| {
        croner::Cron::from_str(text).map_err(|e| FieldProblem::new(field, e))
    };
    let incoming = &route.spec.incoming;
    let poll_schedule = incoming
        .poll
        .as_ref()
        .map(|poll| cron("spec.incoming.poll.schedule", &poll.schedule))
        .transpose()?;
    let webhook_auth = match incoming.webhook.as_ref().and_then(|w| w.auth.as_ref()) {
        Some(auth) => WebhookAuthenticator::new(auth, namespace, secrets)?,
        None => None,
    };
    let cxml = match &incoming.webhook {
        Some(webhook) => CxmlIntake::new(webhook, namespace, secrets)?,
        None => None,
    };
    let resources = Resources {
        namespace,
        connections: Some(connections),
        value_tables: Some(value_tables),
    };
    let delivery_schedule = match (&route.processing.mode, &route.processing.schedule) {
        (switchyard_crds::v1alpha1::ProcessingMode::Scheduled, Some(text)) => {
            Some(cron("spec.processing.schedule", text)?)
        }
        _ => None,
    };
    let key = RouteKey {
        namespace: namespace.to_owned(),
        route: route.name().to_owned(),
    };
    let pipeline = |steps, field: &str| {
        build_pipeline_with(steps, &resources)
            .map(|pipeline| pipeline.timed(&key))
            .map_err(|e| FieldProblem::new(field, e))
    };
    Ok(RouteRuntime {
        metrics: Arc::new(crate::metrics::RouteMetrics::new(&key)),
        incoming: pipeline(&route.incoming_steps, "spec.transformers.incoming")?,
        outgoing: pipeline(&route.outgoing_steps, "spec.transformers.outgoing")?,
        after_delivery: pipeline(
            &route.after_delivery_steps,
            "spec.transformers.afterDelivery",
        )?,
        key,
        source: connections.source(route, secrets)?,
        sink: connections.sink(route, secrets)?,
        webhook_auth,
        cxml,
        poll_schedule,
        delivery_schedule,
        proxy: crate::proxy::ProxyRuntime::build(route, connections, &resources, secrets)?,
        awaiting: route
            .spec
            .outgoing
            .awaiting
            .as_ref()
            .map(|spec| crate::waiting::Awaiting::new(spec, namespace, secrets))
            .transpose()?,
        compiled: route.clone(),
        circuit: None,
    })
}
