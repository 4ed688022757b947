//! Compiling a set of manifests into one runnable configuration: references resolved,
//! Transformer calls expanded, defaults applied, every problem collected.
//!
//! An invalid Route is left out (with its problems) while valid Routes stay in, so the
//! operator can keep a tenant's good routes running; the local mode refuses to start when
//! there is any problem at all.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::{AnyResource, LoadedResource};
use crate::problem::{Origin, Problem, ResourceId};
use crate::secret_refs::{SecretRef, secret_refs};
use crate::v1alpha1::{
    ConnectionSpec, HttpDelivery, Incoming, KeepSteps, NotificationSpec, ProcessingMode, RouteSpec,
    Step, ValueTableSpec,
};
use crate::validate;

mod expand;
mod fan_out;
mod kinds;
mod references;

pub use expand::MAX_EXPANDED_STEPS;
use expand::{Site, StepResolver};

pub use fan_out::WHEN_LABEL;

/// Key of a namespaced resource: `(namespace, name)`.
pub type Key = (String, String);

/// A Connection that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledConnection {
    pub id: ResourceId,
    pub origin: Origin,
    pub spec: ConnectionSpec,
}

/// A ValueTable that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledValueTable {
    pub id: ResourceId,
    pub origin: Origin,
    pub spec: ValueTableSpec,
}

/// A Notification that passed validation: what it names (Routes, Connections) exists.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledNotification {
    pub id: ResourceId,
    pub origin: Origin,
    pub spec: NotificationSpec,
}

/// One step of a compiled pipeline, with a label that says where it was written (for
/// task logs and errors).
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledStep {
    /// e.g. `incoming step 2` or `Transformer/default/clean step 1`.
    pub label: String,
    pub step: Step,
}

/// Retry settings with defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
}

/// Processing settings with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingSettings {
    pub mode: ProcessingMode,
    pub schedule: Option<String>,
    pub max_concurrency: u32,
    pub retry: RetrySettings,
    pub suspend: bool,
    /// `spec.processing.maxPending`; `None`: the runner's default applies.
    pub max_pending: Option<u64>,
    /// `spec.processing.keepSteps`, default `failed`.
    pub keep_steps: KeepSteps,
}

/// Default number of tasks a route delivers at once: enough to hide a receiver's
/// latency without flooding it.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 16;
/// Default attempts before a task is `failed`.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Default first back-off: one second.
pub const DEFAULT_INITIAL_BACKOFF_MS: u64 = 1_000;
/// Default back-off ceiling: five minutes.
pub const DEFAULT_MAX_BACKOFF_MS: u64 = 300_000;

/// The steps of a proxy route, with Transformer calls expanded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxySteps {
    pub request: Vec<LabeledStep>,
    pub response: Vec<LabeledStep>,
}

/// A Route that passed validation, with everything it refers to resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRoute {
    pub id: ResourceId,
    pub origin: Origin,
    pub spec: RouteSpec,
    /// The poll Connection, when the route polls.
    pub poll_connection: Option<ConnectionSpec>,
    /// Incoming steps with Transformer calls expanded.
    pub incoming_steps: Vec<LabeledStep>,
    /// Outgoing steps with Transformer calls expanded.
    pub outgoing_steps: Vec<LabeledStep>,
    /// After-delivery steps with Transformer calls expanded.
    pub after_delivery_steps: Vec<LabeledStep>,
    /// A proxy route's request and response steps (`spec.incoming.proxy.request` and
    /// `.response`) with Transformer calls expanded; empty for other routes.
    pub proxy_steps: ProxySteps,
    /// The Connection items are delivered to.
    pub outgoing_connection: ConnectionSpec,
    /// What to send over an HTTP Connection (the other kinds read `spec.outgoing`).
    pub delivery: HttpDelivery,
    pub processing: ProcessingSettings,
}

impl CompiledRoute {
    pub fn namespace(&self) -> &str {
        &self.id.namespace
    }

    pub fn name(&self) -> &str {
        &self.id.name
    }
}

/// The compiled configuration of one runner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub connections: BTreeMap<Key, CompiledConnection>,
    pub routes: BTreeMap<Key, CompiledRoute>,
    /// Tables that `valueMap` steps name.
    pub value_tables: BTreeMap<Key, CompiledValueTable>,
    /// Notification rules, checked against the compiled Routes and Connections.
    pub notifications: BTreeMap<Key, CompiledNotification>,
    /// Variables resources (their placeholders were replaced when loading).
    pub variables: BTreeMap<Key, crate::v1alpha1::VariablesSpec>,
    /// Every problem found; resources with problems are left out of the maps above.
    pub problems: Vec<Problem>,
    /// Every Secret key referenced by a valid resource, as `(namespace, name, key)`.
    pub secret_refs: BTreeSet<(String, String, String)>,
    /// The problems of each Connection and Route left out, so that a reference to one
    /// says why it is invalid instead of calling it missing.
    pub invalid: BTreeMap<ResourceId, Vec<Problem>>,
}

impl Catalog {
    /// Validates and compiles `resources`. Never fails: problems are collected in
    /// [`Catalog::problems`].
    pub fn build(resources: Vec<LoadedResource>) -> Self {
        let mut catalog = Catalog::default();
        let mut transformers = BTreeMap::new();
        let mut routes = Vec::new();
        let mut seen = BTreeMap::<ResourceId, Origin>::new();
        let mut notifications = Vec::new();

        for loaded in resources {
            if let Some(first) = seen.get(&loaded.id) {
                catalog.problems.push(Problem::new(
                    &loaded.origin,
                    Some(&loaded.id),
                    "metadata.name",
                    format!("duplicate resource; first defined in {first}"),
                ));
                continue;
            }
            seen.insert(loaded.id.clone(), loaded.origin.clone());
            let key = (loaded.id.namespace.clone(), loaded.id.name.clone());
            match loaded.resource {
                AnyResource::Connection(connection) => {
                    let problems =
                        validate::connection(&connection.spec, &loaded.origin, &loaded.id);
                    if problems.is_empty() {
                        catalog.connections.insert(
                            key,
                            CompiledConnection {
                                id: loaded.id,
                                origin: loaded.origin,
                                spec: connection.spec,
                            },
                        );
                    } else {
                        catalog.problems.extend(problems.iter().cloned());
                        catalog.invalid.insert(loaded.id, problems);
                    }
                }
                AnyResource::Transformer(transformer) => {
                    transformers.insert(key, (loaded.id, loaded.origin, transformer.spec));
                }
                AnyResource::Route(route) => routes.push((loaded.id, loaded.origin, route.spec)),
                AnyResource::Notification(notification) => {
                    notifications.push((loaded.id, loaded.origin, notification.spec));
                }
                AnyResource::Variables(variables) => {
                    catalog.variables.insert(key, variables.spec);
                }
                AnyResource::ValueTable(table) => {
                    catalog.value_tables.insert(
                        key,
                        CompiledValueTable {
                            id: loaded.id,
                            origin: loaded.origin,
                            spec: table.spec,
                        },
                    );
                }
            }
        }

        let invalid_connections = catalog.invalid.clone();
        let resolver = StepResolver {
            transformers: &transformers,
            known: references::Known {
                connections: &catalog.connections,
                value_tables: &catalog.value_tables,
                invalid: &invalid_connections,
            },
            checked: Default::default(),
        };
        for (key, (id, origin, spec)) in &transformers {
            let site = Site {
                namespace: &key.0,
                field: "spec.steps",
                origin,
                id,
            };
            resolver.expand(&site, &spec.steps, Some(&key.1), &mut catalog.problems);
        }
        let route_names: BTreeSet<Key> = routes
            .iter()
            .map(|(id, _, _)| (id.namespace.clone(), id.name.clone()))
            .collect();
        // Routes that take another Route's intake come last: the Route they name must
        // be compiled (valid) before them.
        routes.sort_by_key(|(_, _, spec)| spec.incoming.route.is_some());
        for (id, origin, spec) in routes {
            match compile_route(&catalog, &resolver, &route_names, id, origin, spec) {
                Ok(route) => {
                    catalog
                        .routes
                        .insert((route.id.namespace.clone(), route.id.name.clone()), route);
                }
                Err((id, problems)) => {
                    catalog.problems.extend(problems.iter().cloned());
                    catalog.invalid.insert(id, problems);
                }
            }
        }
        // Last: a Notification names Routes and Connections, which must be compiled.
        for (id, origin, spec) in notifications {
            let problems =
                crate::validate_notification::notification(&spec, &catalog, &origin, &id);
            if problems.is_empty() {
                catalog.notifications.insert(
                    (id.namespace.clone(), id.name.clone()),
                    CompiledNotification { id, origin, spec },
                );
            } else {
                catalog.problems.extend(problems);
            }
        }
        catalog.collect_secret_refs();
        catalog
    }

    /// Every secret reference of every compiled resource, with the resource (the one
    /// walk of [`crate::secret_refs`]): Connections, Routes with their expanded steps
    /// (Transformers' steps included), ValueTables and Notifications ([`SECRET_KINDS`];
    /// Variables' secret values are added by `collect_secret_refs`).
    /// The operator mounts them; the runner resolves them before it builds anything.
    pub fn resource_secret_refs(&self) -> Vec<(&ResourceId, &Origin, Vec<SecretRef>)> {
        let mut found = Vec::new();
        for c in self.connections.values() {
            found.push((&c.id, &c.origin, secret_refs(&c.spec, "spec")));
        }
        for r in self.routes.values() {
            let mut refs = secret_refs(&r.spec, "spec");
            let steps = r
                .incoming_steps
                .iter()
                .chain(&r.outgoing_steps)
                .chain(&r.after_delivery_steps)
                .chain(&r.proxy_steps.request)
                .chain(&r.proxy_steps.response);
            for step in steps {
                refs.extend(secret_refs(&step.step, &step.label));
            }
            found.push((&r.id, &r.origin, refs));
        }
        for t in self.value_tables.values() {
            found.push((&t.id, &t.origin, secret_refs(&t.spec, "spec")));
        }
        for n in self.notifications.values() {
            found.push((&n.id, &n.origin, secret_refs(&n.spec, "spec")));
        }
        found
    }

    fn collect_secret_refs(&mut self) {
        let mut refs: BTreeSet<_> = self
            .resource_secret_refs()
            .into_iter()
            .flat_map(|(id, _, refs)| {
                refs.into_iter()
                    .map(|r| (id.namespace.clone(), r.selector.name, r.selector.key))
            })
            .collect();
        // Secret variables (`Variables` spec.secretValues) are mounted like the rest.
        for ((namespace, _), variables) in &self.variables {
            for value in variables.secret_values.values() {
                let selector = value.secret_key_ref.clone();
                refs.insert((namespace.clone(), selector.name, selector.key));
            }
        }
        self.secret_refs = refs;
    }
}

/// The kinds whose secret references [`Catalog::secret_refs`] holds (a Transformer's
/// through the Routes that call it). A test fails when a CRD can hold a `secretKeyRef`
/// and is not listed.
pub const SECRET_KINDS: &[&str] = &[
    "Connection",
    "Route",
    "Transformer",
    "ValueTable",
    "Notification",
    "Variables",
];

/// Problems of another resource, for a message about a reference to it.
fn render_nested(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Catalog {
    /// Why `kind` `name` of `namespace`, which a resource refers to, is not in the
    /// catalog: it is invalid (with its problems), or it does not exist.
    pub(crate) fn unresolved(&self, kind: &str, namespace: &str, name: &str) -> String {
        unresolved(&self.invalid, kind, namespace, name)
    }
}

fn unresolved(
    invalid: &BTreeMap<ResourceId, Vec<Problem>>,
    kind: &str,
    namespace: &str,
    name: &str,
) -> String {
    let id = ResourceId {
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    match invalid.get(&id) {
        Some(problems) => format!("{kind} `{name}` is invalid: {}", render_nested(problems)),
        None => format!("{kind} `{name}` does not exist in namespace `{namespace}`"),
    }
}

fn compile_route(
    catalog: &Catalog,
    resolver: &StepResolver<'_>,
    route_names: &BTreeSet<Key>,
    id: ResourceId,
    origin: Origin,
    spec: RouteSpec,
) -> Result<CompiledRoute, (ResourceId, Vec<Problem>)> {
    let mut problems = validate::route(&spec, &origin, &id);
    problems.extend(fan_out::problems(catalog, &spec, &origin, &id));
    let find_connection = |field: &str, name: &str, problems: &mut Vec<Problem>| {
        let key = (id.namespace.clone(), name.to_owned());
        match catalog.connections.get(&key) {
            Some(connection) => Some(connection.spec.clone()),
            None => {
                problems.push(Problem::new(
                    &origin,
                    Some(&id),
                    field,
                    catalog.unresolved("Connection", &id.namespace, name),
                ));
                None
            }
        }
    };
    let poll_connection = match &spec.incoming {
        Incoming {
            poll: Some(poll), ..
        } => find_connection(
            "spec.incoming.poll.connection",
            &poll.connection,
            &mut problems,
        ),
        _ => None,
    };
    if let (Some(poll), Some(connection)) = (&spec.incoming.poll, &poll_connection) {
        problems.extend(kinds::poll(poll, connection, &origin, &id));
    }
    let outgoing_connection = find_connection(
        "spec.outgoing.connection",
        &spec.outgoing.connection,
        &mut problems,
    );
    if let Some(connection) = &outgoing_connection {
        if spec.incoming.proxy.is_some() {
            problems.extend(kinds::proxy(&spec.outgoing, connection, &origin, &id));
        } else {
            problems.extend(kinds::outgoing(&spec.outgoing, connection, &origin, &id));
        }
    }
    let site = |field| Site {
        namespace: &id.namespace,
        field,
        origin: &origin,
        id: &id,
    };
    let mut incoming_steps: Vec<LabeledStep> = fan_out::when_step(&spec).into_iter().collect();
    incoming_steps.extend(resolver.expand(
        &site("spec.transformers.incoming"),
        &spec.transformers.incoming,
        None,
        &mut problems,
    ));
    let outgoing_steps = resolver.expand(
        &site("spec.transformers.outgoing"),
        &spec.transformers.outgoing,
        None,
        &mut problems,
    );
    let after_delivery_steps = resolver.expand(
        &site("spec.transformers.afterDelivery"),
        &spec.transformers.after_delivery,
        None,
        &mut problems,
    );
    let proxy_steps = match &spec.incoming.proxy {
        Some(proxy) => ProxySteps {
            request: resolver.expand(
                &site("spec.incoming.proxy.request"),
                &proxy.request,
                None,
                &mut problems,
            ),
            response: resolver.expand(
                &site("spec.incoming.proxy.response"),
                &proxy.response,
                None,
                &mut problems,
            ),
        },
        None => ProxySteps::default(),
    };
    // A trigger queues a task: only a delivered item may do that, never the pipelines
    // that run before the queue or before sending (they may run again), nor a proxied
    // call's.
    for (field, steps) in [
        ("spec.transformers.incoming", &incoming_steps),
        ("spec.transformers.outgoing", &outgoing_steps),
        ("spec.incoming.proxy.request", &proxy_steps.request),
        ("spec.incoming.proxy.response", &proxy_steps.response),
    ] {
        for step in steps.iter().flat_map(|s| triggers(&s.step)) {
            problems.push(Problem::new(
                &origin,
                Some(&id),
                field,
                format!(
                    "the `trigger` step (to Route `{}`) runs only in `spec.transformers.afterDelivery`",
                    step.route
                ),
            ));
        }
    }
    for step in after_delivery_steps.iter().flat_map(|s| triggers(&s.step)) {
        if !route_names.contains(&(id.namespace.clone(), step.route.clone())) {
            problems.push(Problem::new(
                &origin,
                Some(&id),
                "spec.transformers.afterDelivery",
                format!(
                    "the `trigger` step names Route `{}`, which does not exist in namespace `{}`",
                    step.route, id.namespace
                ),
            ));
        }
    }
    let Some(outgoing_connection) = outgoing_connection else {
        return Err((id, problems));
    };
    if !problems.is_empty() {
        return Err((id, problems));
    }
    let processing = spec.processing.clone().unwrap_or_default();
    let retry = processing.retry.clone().unwrap_or_default();
    Ok(CompiledRoute {
        poll_connection,
        incoming_steps,
        outgoing_steps,
        after_delivery_steps,
        proxy_steps,
        outgoing_connection,
        delivery: spec.outgoing.http.clone().unwrap_or_default(),
        processing: ProcessingSettings {
            mode: processing.mode.unwrap_or(ProcessingMode::Realtime),
            schedule: processing.schedule,
            max_concurrency: processing
                .max_concurrency
                .unwrap_or(DEFAULT_MAX_CONCURRENCY),
            retry: RetrySettings {
                max_attempts: retry.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
                initial_backoff_ms: retry
                    .initial_backoff_ms
                    .unwrap_or(DEFAULT_INITIAL_BACKOFF_MS),
                max_backoff_ms: retry.max_backoff_ms.unwrap_or(DEFAULT_MAX_BACKOFF_MS),
            },
            suspend: processing.suspend.unwrap_or(false),
            max_pending: processing.max_pending,
            keep_steps: processing.keep_steps.unwrap_or_default(),
        },
        id,
        origin,
        spec,
    })
}

/// The `trigger` steps in a step, looking inside `when` blocks.
fn triggers(step: &Step) -> Vec<&crate::v1alpha1::TriggerStep> {
    match step {
        Step::Trigger(trigger) => vec![trigger],
        Step::When(when) => when
            .steps
            .iter()
            .chain(&when.otherwise)
            .flat_map(triggers)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
