//! Which resources a configuration reload changed, for the audit trail.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use switchyard_crds::manifest::{self, AnyResource};

use super::{AuditAction, AuditEvent, AuditLog};

/// Each resource of the manifests under `paths` (`Kind/namespace/name`) with its
/// content, to compare before and after a reload.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fingerprint(BTreeMap<(String, String), String>);

impl Fingerprint {
    pub fn of(paths: &[PathBuf], context: &manifest::VarContext<'_>) -> Self {
        let resources = manifest::load_with(paths, context).resources;
        let mut map = BTreeMap::new();
        for loaded in resources {
            let content = match &loaded.resource {
                AnyResource::Connection(r) => serde_json::to_string(r),
                AnyResource::Transformer(r) => serde_json::to_string(r),
                AnyResource::Route(r) => serde_json::to_string(r),
                AnyResource::ValueTable(r) => serde_json::to_string(r),
                AnyResource::Notification(r) => serde_json::to_string(r),
                AnyResource::Variables(r) => serde_json::to_string(r),
            }
            .unwrap_or_default();
            let id = &loaded.id;
            map.insert(
                (id.namespace.clone(), format!("{}/{}", id.kind, id.name)),
                content,
            );
        }
        Self(map)
    }

    /// Per namespace: the resources added, changed and removed from `self` to `new`.
    pub fn changes(&self, new: &Self) -> BTreeMap<String, Value> {
        let mut out: BTreeMap<String, Changes> = BTreeMap::new();
        for ((namespace, name), content) in &new.0 {
            match self.0.get(&(namespace.clone(), name.clone())) {
                None => out.entry(namespace.clone()).or_default().0.push(name),
                Some(old) if old != content => {
                    out.entry(namespace.clone()).or_default().1.push(name)
                }
                Some(_) => {}
            }
        }
        for (namespace, name) in self.0.keys() {
            if !new.0.contains_key(&(namespace.clone(), name.clone())) {
                out.entry(namespace.clone()).or_default().2.push(name);
            }
        }
        out.into_iter()
            .map(|(namespace, (added, changed, removed))| {
                (
                    namespace,
                    json!({"added": added, "changed": changed, "removed": removed}),
                )
            })
            .collect()
    }
}

/// Names added, changed and removed.
type Changes<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>);

/// Records a reload from `old` to `new`: one event per namespace whose resources
/// changed.
pub async fn record_reload(log: &dyn AuditLog, old: &Fingerprint, new: &Fingerprint) {
    for (namespace, detail) in old.changes(new) {
        let event = AuditEvent::new(
            &namespace,
            "runner".into(),
            None,
            AuditAction::Reload,
            "configuration",
            detail,
        );
        super::record(log, event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(entries: &[(&str, &str, &str)]) -> Fingerprint {
        Fingerprint(
            entries
                .iter()
                .map(|(ns, name, content)| {
                    ((ns.to_string(), name.to_string()), content.to_string())
                })
                .collect(),
        )
    }

    #[test]
    fn changes_name_added_changed_and_removed_resources_per_namespace() {
        let old = fingerprint(&[
            ("shop", "Route/orders", "a"),
            ("shop", "Connection/erp", "b"),
            ("hr", "Route/people", "c"),
        ]);
        let new = fingerprint(&[
            ("shop", "Route/orders", "a2"),
            ("shop", "Route/returns", "d"),
            ("hr", "Route/people", "c"),
        ]);
        let changes = old.changes(&new);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(
            changes["shop"],
            json!({"added": ["Route/returns"], "changed": ["Route/orders"], "removed": ["Connection/erp"]})
        );
    }
}
