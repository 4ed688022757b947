//! The loader's second pass: the Variables (and the ConfigMaps they name) of all the
//! documents first, then every other document with its placeholders replaced, typed.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{AnyResource, Identified, LoadedResource, identify, typed_resource};
use crate::problem::{Origin, Problem, ResourceId};
use crate::vars::{
    self, Coercible, SecretLookup, StandIn, VarSet, Variable, definitions::ConfigMaps,
};

/// What a load knows about variables beyond the manifests.
pub struct VarContext<'a> {
    /// Variables from files and the environment: in every namespace, over the
    /// namespace's Variables.
    pub external: BTreeMap<String, Variable>,
    /// Where secret variables' values come from.
    pub secrets: &'a dyn SecretLookup,
}

impl Default for VarContext<'_> {
    /// No outside variables; secret variables stand for a stand-in (checking only).
    fn default() -> Self {
        Self {
            external: BTreeMap::new(),
            secrets: &StandIn,
        }
    }
}

/// Loads documents read elsewhere (the operator's objects), as [`super::load_with`]
/// loads files.
pub fn load_values(
    documents: Vec<(Origin, Value)>,
    context: &VarContext<'_>,
) -> (Vec<LoadedResource>, Vec<Problem>) {
    let (resources, problems, _) = resolve(documents, context);
    (resources, problems)
}

enum Slot {
    Done(Box<LoadedResource>),
    Pending(Origin, ResourceId, Value),
}

/// Types `documents`, replacing placeholders; also returns the variables used.
pub(super) fn resolve(
    documents: Vec<(Origin, Value)>,
    context: &VarContext<'_>,
) -> (Vec<LoadedResource>, Vec<Problem>, VarSet) {
    let mut problems = Vec::new();
    let mut slots = Vec::new();
    let mut config_maps = ConfigMaps::new();
    for (origin, value) in documents {
        match identify(&value, &origin) {
            Err(problem) => problems.push(problem),
            Ok(Identified::Foreign) => {}
            Ok(Identified::ConfigMap(id)) => {
                config_maps.insert((id.namespace, id.name), config_map_data(&value));
            }
            Ok(Identified::Switchyard(id)) if id.kind == "Variables" => {
                match typed_resource(value, &origin, &id, &[]) {
                    Ok(resource) => slots.push(Slot::Done(Box::new(LoadedResource {
                        origin,
                        id,
                        resource,
                        template: None,
                    }))),
                    Err(problem) => problems.push(problem),
                }
            }
            Ok(Identified::Switchyard(id)) => slots.push(Slot::Pending(origin, id, value)),
        }
    }
    let mut set = VarSet {
        external: context.external.clone(),
        namespaced: BTreeMap::new(),
    };
    let sources: Vec<vars::definitions::Source<'_>> = slots
        .iter()
        .filter_map(|slot| match slot {
            Slot::Done(loaded) => match &loaded.resource {
                AnyResource::Variables(v) => Some(vars::definitions::Source {
                    id: &loaded.id,
                    origin: &loaded.origin,
                    spec: &v.spec,
                }),
                _ => None,
            },
            _ => None,
        })
        .collect();
    problems.extend(vars::define(
        &sources,
        &config_maps,
        context.secrets,
        &mut set,
    ));
    let mut resources = Vec::with_capacity(slots.len());
    for slot in slots {
        match slot {
            Slot::Done(resource) => resources.push(*resource),
            Slot::Pending(origin, id, value) => match substituted(value, &origin, &id, &set) {
                Ok(resource) => resources.push(resource),
                Err(mut more) => problems.append(&mut more),
            },
        }
    }
    (resources, problems, set)
}

/// A ConfigMap's `data` (values that are not text are skipped: Kubernetes has none).
fn config_map_data(value: &Value) -> BTreeMap<String, String> {
    value
        .get("data")
        .and_then(Value::as_object)
        .map(|data| {
            data.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn substituted(
    mut value: Value,
    origin: &Origin,
    id: &ResourceId,
    set: &VarSet,
) -> Result<LoadedResource, Vec<Problem>> {
    let mut template = None;
    let mut coercible = Vec::new();
    if let Some(spec) = value.get_mut("spec") {
        let mut replaced = spec.clone();
        match vars::substitute(&mut replaced, "spec", "/spec", &id.namespace, set) {
            Ok(done) if done.changed => {
                template = Some(std::mem::replace(spec, replaced));
                coercible = done.coercible;
            }
            Ok(_) => {}
            Err(errors) => {
                return Err(errors
                    .into_iter()
                    .map(|e| Problem::new(origin, Some(id), e.field, e.error.to_string()))
                    .collect());
            }
        }
    }
    let resource = typed_resource(value, origin, id, &coercible).map_err(|p| vec![p])?;
    Ok(LoadedResource {
        origin: origin.clone(),
        id: id.clone(),
        resource,
        template,
    })
}

/// Types `value` with `typed`; where a field refuses the text a whole-field placeholder
/// gave it, it gets the number or boolean that text reads as, and typing runs again.
pub(super) fn coercing<T>(
    mut value: Value,
    coercible: &[Coercible],
    typed: impl Fn(Value) -> Result<T, Problem>,
) -> Result<T, Problem> {
    let mut left: Vec<&Coercible> = coercible.iter().collect();
    loop {
        if left.is_empty() {
            return typed(value);
        }
        let problem = match typed(value.clone()) {
            Ok(typed) => return Ok(typed),
            Err(problem) => problem,
        };
        let under = |c: &&Coercible| {
            problem.field.is_empty()
                || c.field
                    .strip_prefix(problem.field.as_str())
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        };
        let Some(index) = left
            .iter()
            .position(|c| c.field == problem.field)
            .or_else(|| left.iter().position(under))
        else {
            return Err(problem);
        };
        let coerce = left.remove(index);
        if let Some(slot) = value.pointer_mut(&coerce.pointer) {
            *slot = coerce.value.clone();
        }
    }
}

#[cfg(test)]
mod tests;
