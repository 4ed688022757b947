//! From the Variables resources of the manifests (and the ConfigMaps they name) to the
//! variables of each namespace.

use std::collections::BTreeMap;

use super::{Definition, VarSet, Variable, is_name};
use crate::problem::{Origin, Problem, ResourceId};
use crate::v1alpha1::{SecretValue, VariablesSpec};

/// Looks up the value of a secret variable.
pub trait SecretLookup {
    /// The value of the Secret key `value` names, in `namespace`. An implementation that
    /// has the value registers it with its redactor before returning it.
    fn lookup(
        &self,
        namespace: &str,
        value: &SecretValue,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>>;
}

/// For checking manifests without reading Secrets (the operator): every secret variable
/// stands for the text `secret`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StandIn;

/// What [`StandIn`] gives for every secret variable.
pub const STAND_IN: &str = "secret";

impl SecretLookup for StandIn {
    fn lookup(
        &self,
        _namespace: &str,
        _value: &SecretValue,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Ok(STAND_IN.to_owned())
    }
}

/// One Variables resource to define from.
pub struct Source<'a> {
    pub id: &'a ResourceId,
    pub origin: &'a Origin,
    pub spec: &'a VariablesSpec,
}

/// ConfigMap data by `(namespace, name)`.
pub type ConfigMaps = BTreeMap<(String, String), BTreeMap<String, String>>;

/// Defines the variables of every namespace from its Variables resources into `set`.
/// A resource with a problem defines nothing (so the operator, which ships only
/// problem-free resources, and the runner agree); a name is defined once per namespace.
pub fn define(
    sources: &[Source<'_>],
    config_maps: &ConfigMaps,
    secrets: &dyn SecretLookup,
    set: &mut VarSet,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for source in sources {
        let (vars, mut own) = of_resource(source, config_maps, secrets);
        let namespace = set
            .namespaced
            .entry(source.id.namespace.clone())
            .or_default();
        for name in vars.keys() {
            if let Some(first) = namespace.get(name) {
                own.push(Problem::new(
                    source.origin,
                    Some(source.id),
                    field_of(source.spec, name),
                    format!(
                        "variable `{name}` is already defined by {}; define each name once per namespace",
                        first.defined_by
                    ),
                ));
            }
        }
        if own.is_empty() {
            namespace.extend(vars);
        }
        problems.append(&mut own);
    }
    problems
}

/// Where a name is written in a Variables resource.
fn field_of(spec: &VariablesSpec, name: &str) -> String {
    if spec.secret_values.contains_key(name) {
        format!("spec.secretValues.{name}")
    } else if spec.values.contains_key(name) {
        format!("spec.values.{name}")
    } else {
        "spec.valuesFrom".to_owned()
    }
}

fn of_resource(
    source: &Source<'_>,
    config_maps: &ConfigMaps,
    secrets: &dyn SecretLookup,
) -> (BTreeMap<String, Variable>, Vec<Problem>) {
    let Source { id, origin, spec } = source;
    let problem = |field: String, message: String| Problem::new(origin, Some(id), field, message);
    let mut problems = Vec::new();
    let mut vars = BTreeMap::new();
    let plain = |value: &str, defined_by: Definition| Variable {
        value: value.to_owned(),
        secret: false,
        defined_by,
    };
    for (index, from) in spec.values_from.iter().enumerate() {
        let name = &from.config_map_ref.name;
        match config_maps.get(&(id.namespace.clone(), name.clone())) {
            // Keys that are no variable name (`app.properties`) cannot be named by a
            // placeholder; they are skipped, as a Pod's `envFrom` skips them.
            Some(data) => vars.extend(data.iter().filter(|(k, _)| is_name(k)).map(|(k, v)| {
                let defined_by = Definition::ConfigMap {
                    variables: (*id).clone(),
                    name: name.clone(),
                };
                (k.clone(), plain(v, defined_by))
            })),
            None => problems.push(problem(
                format!("spec.valuesFrom[{index}].configMapRef.name"),
                format!(
                    "ConfigMap `{name}` not found in namespace `{}`",
                    id.namespace
                ),
            )),
        }
    }
    for (name, value) in &spec.values {
        vars.insert(
            name.clone(),
            plain(value, Definition::Resource((*id).clone())),
        );
    }
    for (name, reference) in &spec.secret_values {
        if spec.values.contains_key(name) {
            problems.push(problem(
                format!("spec.secretValues.{name}"),
                format!("variable `{name}` is also in `spec.values`; a variable is plain or secret, not both"),
            ));
            continue;
        }
        match secrets.lookup(&id.namespace, reference) {
            Ok(value) => {
                vars.insert(
                    name.clone(),
                    Variable {
                        value,
                        secret: true,
                        defined_by: Definition::Resource((*id).clone()),
                    },
                );
            }
            Err(error) => problems.push(problem(
                format!("spec.secretValues.{name}"),
                error.to_string(),
            )),
        }
    }
    for name in spec.values.keys().chain(spec.secret_values.keys()) {
        if !is_name(name) {
            problems.push(problem(
                field_of(spec, name),
                format!("`{name}` is not a variable name: letters, digits and `_`, not starting with a digit"),
            ));
        }
    }
    (vars, problems)
}
