//! From the Switchyard resources of a tenant's namespace to what each region's runner
//! gets: the valid manifests (as the runner's `-f` directory), the Secrets they need and a
//! hash that rolls the pods when the configuration changes.
//!
//! Validation is the `crds` crate's ([`Catalog::build`]), so the operator, the runner and
//! the local mode reject the same manifests with the same messages. Region pinning is
//! checked here because only the operator knows the Tenant's regions.

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;
use kube::api::DynamicObject;
use serde_json::json;
use sha2::{Digest, Sha256};
use switchyard_crds::API_VERSION;
use switchyard_crds::catalog::Catalog;
#[cfg(test)]
use switchyard_crds::manifest::load_str;
use switchyard_crds::manifest::{AnyResource, LoadedResource, VarContext, load_values};
use switchyard_crds::problem::{Origin, Problem, ResourceId};

use crate::names::ANNOTATION_RETRY_FAILED;

/// The namespace's resources, typed, with everything found wrong with them.
#[derive(Debug, Clone, Default)]
pub struct Validated {
    pub resources: Vec<LoadedResource>,
    /// Problems of every resource, by the resource they concern (`None`: unidentified).
    pub problems: Vec<Problem>,
    /// Ids of the Routes that are valid and may run.
    pub valid_routes: BTreeSet<ResourceId>,
    /// The ConfigMaps that Variables name (`valuesFrom`), as read: they ship with them.
    pub config_maps: BTreeMap<(String, String), serde_json::Value>,
}

impl Validated {
    /// Problems of one resource.
    pub fn problems_of<'a>(&'a self, id: &'a ResourceId) -> impl Iterator<Item = &'a Problem> {
        self.problems
            .iter()
            .filter(move |p| p.resource.as_ref() == Some(id))
    }
}

/// Types the objects read from the cluster. A document that does not fit its type is a
/// problem of that resource, never an error of the whole namespace. Placeholders are
/// checked against the namespace's Variables (and their ConfigMaps); the operator reads
/// no Secret, so a secret variable stands for a stand-in here and is filled in by the
/// runner.
pub fn load(objects: &[DynamicObject]) -> (Vec<LoadedResource>, Vec<Problem>) {
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for object in objects {
        match serde_json::to_value(object) {
            Ok(value) => documents.push((Origin::default(), value)),
            Err(error) => problems.push(Problem::new(
                &Origin::default(),
                None,
                "",
                format!("cannot be read: {error}"),
            )),
        }
    }
    let (resources, mut more) = load_values(documents, &VarContext::default());
    problems.append(&mut more);
    (resources, problems)
}

/// The names of the ConfigMaps the Variables among `objects` take values from.
pub fn config_maps_named(objects: &[DynamicObject]) -> BTreeSet<String> {
    objects
        .iter()
        .filter(|o| o.types.as_ref().is_some_and(|t| t.kind == "Variables"))
        .filter_map(|o| o.data.pointer("/spec/valuesFrom")?.as_array().cloned())
        .flatten()
        .filter_map(|from| Some(from.pointer("/configMapRef/name")?.as_str()?.to_owned()))
        .collect()
}

/// The ConfigMaps among `objects` (read because Variables name them), by namespace and
/// name.
pub fn config_maps(objects: &[DynamicObject]) -> BTreeMap<(String, String), serde_json::Value> {
    objects
        .iter()
        .filter(|o| o.types.as_ref().is_some_and(|t| t.kind == "ConfigMap"))
        .map(|o| {
            let key = (
                o.metadata.namespace.clone().unwrap_or_default(),
                o.name_any(),
            );
            (key, o.data.get("data").cloned().unwrap_or_default())
        })
        .collect()
}

/// Validates the namespace's resources for a tenant with `regions`.
pub fn validate(
    resources: Vec<LoadedResource>,
    load_problems: Vec<Problem>,
    regions: &[String],
) -> Validated {
    let catalog = Catalog::build(resources.clone());
    let mut problems = load_problems;
    problems.extend(catalog.problems);
    let mut valid_routes = BTreeSet::new();
    for route in catalog.routes.values() {
        let pinning = pinning_problems(&route.spec.regions, regions, &route.origin, &route.id);
        if pinning.is_empty() {
            valid_routes.insert(route.id.clone());
        }
        problems.extend(pinning);
    }
    Validated {
        resources,
        problems,
        valid_routes,
        config_maps: BTreeMap::new(),
    }
}

fn pinning_problems(
    pinned: &[String],
    regions: &[String],
    origin: &Origin,
    id: &ResourceId,
) -> Vec<Problem> {
    pinned
        .iter()
        .enumerate()
        .filter(|(_, name)| !regions.contains(name))
        .map(|(index, name)| {
            Problem::new(
                origin,
                Some(id),
                format!("spec.regions[{index}]"),
                format!(
                    "`{name}` is not a region of this namespace's Tenant (its regions: {})",
                    regions.join(", ")
                ),
            )
        })
        .collect()
}

/// Whether a Route with these pinned regions runs in `region`.
pub fn runs_in(pinned: &[String], region: &str) -> bool {
    pinned.is_empty() || pinned.iter().any(|r| r == region)
}

/// What one region's runner gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionCatalog {
    /// Multi-document YAML of the valid Connections, Transformers, ValueTables,
    /// Notifications and the
    /// Routes that run in the region.
    pub catalog_yaml: String,
    /// Pending operations (`{"retryFailed": {"<route>": "<request>"}}`).
    pub ops_json: String,
    /// Secrets to mount: name → keys.
    pub secrets: BTreeMap<String, BTreeSet<String>>,
    /// Names of the Routes that run in the region.
    pub routes: Vec<String>,
    /// Hash of `catalog_yaml` (and only it: retry requests must not roll the pods).
    pub hash: String,
}

/// Selects and renders what `region`'s runner gets. Only resources that compile without
/// problems are included, so the runner (which refuses any problem) always starts.
pub fn region_catalog(validated: &Validated, region: &str) -> RegionCatalog {
    let mut included: Vec<&LoadedResource> = validated
        .resources
        .iter()
        .filter(|r| match &r.resource {
            AnyResource::Route(route) => {
                validated.valid_routes.contains(&r.id) && runs_in(&route.spec.regions, region)
            }
            _ => validated.problems_of(&r.id).next().is_none(),
        })
        .collect();
    included.sort_by(|a, b| a.id.cmp(&b.id));
    // Secrets: only those the included resources reference.
    let compiled = Catalog::build(included.iter().map(|r| (*r).clone()).collect());
    let mut secrets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, name, key) in compiled.secret_refs {
        secrets.entry(name).or_default().insert(key);
    }
    let mut documents = Vec::new();
    let mut routes = Vec::new();
    let mut retry = BTreeMap::new();
    let mut config_maps = BTreeSet::new();
    for loaded in &included {
        let (spec, annotations) = match &loaded.resource {
            AnyResource::Variables(v) => {
                config_maps.extend(v.spec.values_from.iter().map(|from| {
                    (
                        loaded.id.namespace.clone(),
                        from.config_map_ref.name.clone(),
                    )
                }));
                (serde_json::to_value(&v.spec), None)
            }
            AnyResource::Connection(c) => (serde_json::to_value(&c.spec), None),
            AnyResource::Transformer(t) => (serde_json::to_value(&t.spec), None),
            AnyResource::ValueTable(v) => (serde_json::to_value(&v.spec), None),
            AnyResource::Notification(n) => (serde_json::to_value(&n.spec), None),
            AnyResource::Route(r) => {
                routes.push(loaded.id.name.clone());
                (
                    serde_json::to_value(&r.spec),
                    r.metadata.annotations.as_ref(),
                )
            }
        };
        if let Some(request) = annotations.and_then(|a| a.get(ANNOTATION_RETRY_FAILED)) {
            retry.insert(loaded.id.name.clone(), request.clone());
        }
        // As written when it holds placeholders: the runner fills them in, secret
        // values included, which never pass through the operator.
        let spec = match &loaded.template {
            Some(template) => template.clone(),
            None => spec.unwrap_or_default(),
        };
        let document = json!({
            "apiVersion": API_VERSION,
            "kind": loaded.id.kind,
            "metadata": {"name": loaded.id.name, "namespace": loaded.id.namespace},
            "spec": spec,
        });
        documents.push(serde_yaml::to_string(&document).unwrap_or_default());
    }
    for key in config_maps {
        let document = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": key.1, "namespace": key.0},
            "data": validated.config_maps.get(&key).cloned().unwrap_or_default(),
        });
        documents.push(serde_yaml::to_string(&document).unwrap_or_default());
    }
    let catalog_yaml = documents.join("---\n");
    let ops_json = json!({ "retryFailed": retry }).to_string();
    RegionCatalog {
        hash: hash(&catalog_yaml),
        catalog_yaml,
        ops_json,
        secrets,
        routes,
    }
}

/// First 16 hex digits of the SHA-256 of `text`.
pub fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_ships_to_the_runner_with_the_secrets_it_names() {
        let text = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp, namespace: acme}
spec:
  http: {baseUrl: "https://erp.example.com"}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: orders, namespace: acme}
spec:
  incoming: {webhook: {}}
  outgoing: {connection: erp}
---
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {name: orders-failing, namespace: acme}
spec:
  rule:
    failedTasks: {count: 3, windowSeconds: 600, route: orders}
  email:
    smtp:
      host: smtp.example.com
      username: alerts
      password: {secretKeyRef: {name: smtp, key: password}}
    from: alerts@example.com
    to: [ops@example.com]
  webhook:
    urlFrom: {secretKeyRef: {name: slack, key: url}}
    format: slack
"#;
        let (resources, problems) = load_str(text, None);
        let validated = validate(resources, problems, &["eu".to_owned()]);
        assert!(validated.problems.is_empty(), "{:?}", validated.problems);
        let catalog = region_catalog(&validated, "eu");
        assert!(
            catalog.catalog_yaml.contains("kind: Notification"),
            "{}",
            catalog.catalog_yaml
        );
        let keys = |name: &str| catalog.secrets.get(name).cloned().unwrap_or_default();
        assert_eq!(keys("smtp"), BTreeSet::from(["password".to_owned()]));
        assert_eq!(keys("slack"), BTreeSet::from(["url".to_owned()]));
    }
}
