//! Compiling a set of manifests into one runnable configuration: references resolved,
//! Transformer calls expanded, defaults applied, every problem collected.
//!
//! An invalid Route is left out (with its problems) while valid Routes stay in, so the
//! operator can keep a tenant's good routes running; the local mode refuses to start when
//! there is any problem at all.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::{AnyResource, LoadedResource};
use crate::problem::{Origin, Problem, ResourceId};
use crate::v1alpha1::{
    ConnectionSpec, HttpDelivery, Incoming, ProcessingMode, RouteSpec, Step, ValueTableSpec,
};
use crate::validate;

mod fan_out;
mod kinds;
mod references;

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
    /// Every problem found; resources with problems are left out of the maps above.
    pub problems: Vec<Problem>,
    /// Every Secret key referenced by a valid resource, as `(namespace, name, key)`.
    pub secret_refs: BTreeSet<(String, String, String)>,
}

impl Catalog {
    /// Validates and compiles `resources`. Never fails: problems are collected in
    /// [`Catalog::problems`].
    pub fn build(resources: Vec<LoadedResource>) -> Self {
        let mut catalog = Catalog::default();
        let mut transformers = BTreeMap::new();
        let mut routes = Vec::new();
        let mut seen = BTreeMap::<ResourceId, Origin>::new();

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
                        catalog.problems.extend(problems);
                    }
                }
                AnyResource::Transformer(transformer) => {
                    transformers.insert(key, (loaded.id, loaded.origin, transformer.spec));
                }
                AnyResource::Route(route) => routes.push((loaded.id, loaded.origin, route.spec)),
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

        let resolver = StepResolver {
            transformers: &transformers,
            known: references::Known {
                connections: &catalog.connections,
                value_tables: &catalog.value_tables,
            },
        };
        for (key, (id, origin, spec)) in &transformers {
            let mut problems = Vec::new();
            resolver.expand(
                &key.0,
                &spec.steps,
                "spec.steps",
                origin,
                id,
                &mut Vec::new(),
                &mut problems,
            );
            catalog.problems.extend(problems);
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
                Err(problems) => catalog.problems.extend(problems),
            }
        }
        catalog.collect_secret_refs();
        catalog
    }

    fn collect_secret_refs(&mut self) {
        let mut refs = BTreeSet::new();
        for connection in self.connections.values() {
            for selector in validate::connection_secrets(&connection.spec) {
                refs.insert((connection.id.namespace.clone(), selector.name, selector.key));
            }
        }
        for route in self.routes.values() {
            for selector in validate::route_secrets(&route.spec) {
                refs.insert((route.id.namespace.clone(), selector.name, selector.key));
            }
        }
        self.secret_refs = refs;
    }
}

type TransformerEntry = (ResourceId, Origin, crate::v1alpha1::TransformerSpec);

/// Expands `transformer:` calls into the steps they name, catching unknown names and
/// cycles.
struct StepResolver<'a> {
    transformers: &'a BTreeMap<Key, TransformerEntry>,
    known: references::Known<'a>,
}

impl StepResolver<'_> {
    #[allow(clippy::too_many_arguments)]
    fn expand(
        &self,
        namespace: &str,
        steps: &[Step],
        field: &str,
        origin: &Origin,
        id: &ResourceId,
        stack: &mut Vec<String>,
        problems: &mut Vec<Problem>,
    ) -> Vec<LabeledStep> {
        let mut out = Vec::new();
        for (index, step) in steps.iter().enumerate() {
            let step_field = format!("{field}[{index}]");
            if let Step::Transformer(name) = step {
                let key = (namespace.to_owned(), name.clone());
                let Some((callee_id, callee_origin, callee)) = self.transformers.get(&key) else {
                    problems.push(Problem::new(
                        origin,
                        Some(id),
                        format!("{step_field}.transformer"),
                        format!("Transformer `{name}` does not exist in namespace `{namespace}`"),
                    ));
                    continue;
                };
                if stack.contains(name) {
                    problems.push(Problem::new(
                        origin,
                        Some(id),
                        format!("{step_field}.transformer"),
                        format!(
                            "Transformer `{name}` calls itself (via {})",
                            stack.join(" → ")
                        ),
                    ));
                    continue;
                }
                stack.push(name.clone());
                // The callee's own problems are reported once, against the callee.
                let mut ignored = Vec::new();
                out.extend(self.expand(
                    namespace,
                    &callee.steps,
                    "spec.steps",
                    callee_origin,
                    callee_id,
                    stack,
                    &mut ignored,
                ));
                if !ignored.is_empty() {
                    problems.push(Problem::new(
                        origin,
                        Some(id),
                        format!("{step_field}.transformer"),
                        format!("Transformer `{name}` is invalid (see its own problems)"),
                    ));
                }
                stack.pop();
            } else {
                let before = problems.len();
                validate::step(step, &step_field, origin, id, problems);
                if problems.len() == before {
                    for (field, message) in self.known.check(namespace, step, &step_field) {
                        problems.push(Problem::new(origin, Some(id), field, message));
                    }
                }
                if problems.len() == before {
                    let label = if id.kind == "Transformer" {
                        format!("{id} step {}", index + 1)
                    } else {
                        format!(
                            "{} step {}",
                            field.trim_start_matches("spec.transformers."),
                            index + 1
                        )
                    };
                    out.push(LabeledStep {
                        label,
                        step: step.clone(),
                    });
                }
            }
        }
        out
    }
}

fn compile_route(
    catalog: &Catalog,
    resolver: &StepResolver<'_>,
    route_names: &BTreeSet<Key>,
    id: ResourceId,
    origin: Origin,
    spec: RouteSpec,
) -> Result<CompiledRoute, Vec<Problem>> {
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
                    format!(
                        "Connection `{name}` does not exist in namespace `{}` (or is invalid)",
                        id.namespace
                    ),
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
        problems.extend(kinds::outgoing(&spec.outgoing, connection, &origin, &id));
    }
    let mut incoming_steps: Vec<LabeledStep> = fan_out::when_step(&spec).into_iter().collect();
    incoming_steps.extend(resolver.expand(
        &id.namespace,
        &spec.transformers.incoming,
        "spec.transformers.incoming",
        &origin,
        &id,
        &mut Vec::new(),
        &mut problems,
    ));
    let outgoing_steps = resolver.expand(
        &id.namespace,
        &spec.transformers.outgoing,
        "spec.transformers.outgoing",
        &origin,
        &id,
        &mut Vec::new(),
        &mut problems,
    );
    let after_delivery_steps = resolver.expand(
        &id.namespace,
        &spec.transformers.after_delivery,
        "spec.transformers.afterDelivery",
        &origin,
        &id,
        &mut Vec::new(),
        &mut problems,
    );
    // A trigger queues a task: only a delivered item may do that, never the pipelines
    // that run before the queue or before sending (they may run again).
    for (field, steps) in [
        ("spec.transformers.incoming", &incoming_steps),
        ("spec.transformers.outgoing", &outgoing_steps),
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
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let processing = spec.processing.clone().unwrap_or_default();
    let retry = processing.retry.clone().unwrap_or_default();
    Ok(CompiledRoute {
        poll_connection,
        incoming_steps,
        outgoing_steps,
        after_delivery_steps,
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
mod tests {
    use super::*;
    use crate::manifest::load_str;

    fn problems(yaml: &str) -> Vec<String> {
        let (resources, mut problems) = load_str(yaml, None);
        problems.extend(Catalog::build(resources).problems);
        problems.iter().map(ToString::to_string).collect()
    }

    const CONNECTION: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp}
spec: {http: {baseUrl: "http://erp.example"}}
"#;

    #[test]
    fn a_trigger_names_an_existing_route_and_runs_only_after_delivery() {
        let valid = format!(
            "{CONNECTION}---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: a}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: erp}}
  transformers:
    afterDelivery:
      - when: {{condition: '.response.status == 201', steps: [{{trigger: {{route: b}}}}]}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: b}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: erp}}
"
        );
        assert_eq!(problems(&valid), Vec::<String>::new());

        let wrong = format!(
            "{CONNECTION}---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: a}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: erp}}
  transformers:
    incoming:
      - trigger: {{route: a}}
    afterDelivery:
      - trigger: {{route: missing}}
      - trigger: {{route: a, item: '{{id: .item.id'}}
"
        );
        let found = problems(&wrong);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found
                .iter()
                .any(|p| p.contains("spec.transformers.incoming")
                    && p.contains("runs only in `spec.transformers.afterDelivery`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("spec.transformers.afterDelivery[1].trigger.item")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|p| p.contains("Route `missing`")),
            "{found:?}"
        );
    }
}
