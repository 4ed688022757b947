//! Rules on a Tenant that the CRD schema cannot express. Pure; each problem names the
//! field, so the Tenant's status can say exactly what to fix.

use std::collections::BTreeSet;

use std::collections::BTreeMap;

use switchyard_crds::v1alpha1::{QueueBackend, Tenant};

use crate::names::RESERVED_PREFIXES;

/// Longest `<tenant>-<region>`: a StatefulSet's pods get a `controller-revision-hash`
/// label of its name plus 11 characters, and labels are at most 63.
pub const MAX_OBJECT_NAME: usize = 52;

/// One thing wrong with a Tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantProblem {
    /// Dotted path, e.g. `spec.regions[1].replicas`.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for TenantProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

/// Every problem of `tenant`; empty when it can be reconciled.
pub fn tenant(tenant: &Tenant) -> Vec<TenantProblem> {
    let mut problems = Vec::new();
    let mut push = |field: String, message: String| problems.push(TenantProblem { field, message });
    let name = tenant.metadata.name.as_deref().unwrap_or_default();
    if tenant.spec.regions.is_empty() {
        push(
            "spec.regions".into(),
            "lists no region; add at least one".into(),
        );
    }
    if let Some(message) = tenant.spec.queue.as_ref().and_then(queue_problem) {
        push("spec.queue".into(), message);
    }
    let mut seen = BTreeSet::new();
    for (index, region) in tenant.spec.regions.iter().enumerate() {
        let field = format!("spec.regions[{index}]");
        if !is_dns_label(&region.name) {
            push(
                format!("{field}.name"),
                format!(
                    "`{}` is not a DNS label (lower-case letters, digits and `-`)",
                    region.name
                ),
            );
        } else if name.len() + 1 + region.name.len() > MAX_OBJECT_NAME {
            push(
                format!("{field}.name"),
                format!(
                    "`{name}-{}` is longer than {MAX_OBJECT_NAME} characters; shorten the Tenant or region name",
                    region.name
                ),
            );
        }
        if !seen.insert(region.name.as_str()) {
            push(
                format!("{field}.name"),
                format!("region `{}` is listed twice", region.name),
            );
        }
        let replicas = region.replicas.unwrap_or(1);
        if replicas < 0 {
            push(format!("{field}.replicas"), "must not be negative".into());
        }
        let queue = region.queue.as_ref().or(tenant.spec.queue.as_ref());
        if let Some(message) = region.queue.as_ref().and_then(queue_problem) {
            push(format!("{field}.queue"), message);
        }
        let postgres = queue.is_some_and(|q| q.postgres.is_some());
        if replicas > 1 && !postgres {
            push(
                format!("{field}.replicas"),
                format!(
                    "{replicas} replicas need a PostgreSQL queue; an SQLite queue serves one replica (set `queue.postgres` or `replicas: 1`)"
                ),
            );
        }
    }
    let pod = tenant.spec.pod.clone().unwrap_or_default();
    let account = tenant.spec.service_account.clone().unwrap_or_default();
    for (field, keys, prefixes) in [
        ("spec.pod.labels", &pod.labels, &RESERVED_PREFIXES[..]),
        (
            "spec.pod.annotations",
            &pod.annotations,
            &RESERVED_PREFIXES[1..],
        ),
        (
            "spec.serviceAccount.labels",
            &account.labels,
            &RESERVED_PREFIXES[..],
        ),
    ] {
        if let Some(key) = reserved(keys, prefixes) {
            push(
                field.into(),
                format!(
                    "`{key}` is set by the operator; choose a key outside {}",
                    prefixes.join(", ")
                ),
            );
        }
    }
    if tenant
        .spec
        .back_pressure
        .as_ref()
        .is_some_and(|b| b.max_pending_per_route == Some(0))
    {
        push(
            "spec.backPressure.maxPendingPerRoute".into(),
            "must be at least 1 (leave it out for no limit)".into(),
        );
    }
    if tenant.spec.image.as_deref().is_some_and(str::is_empty) {
        push(
            "spec.image".into(),
            "is empty; remove it to use the operator's default".into(),
        );
    }
    problems
}

/// The first key of `keys` under one of `prefixes`.
fn reserved<'a>(keys: &'a BTreeMap<String, String>, prefixes: &[&str]) -> Option<&'a str> {
    keys.keys()
        .map(String::as_str)
        .find(|key| prefixes.iter().any(|p| key.starts_with(p)))
}

fn queue_problem(queue: &QueueBackend) -> Option<String> {
    match (&queue.sqlite, &queue.postgres) {
        (Some(_), Some(_)) => Some("sets both `sqlite` and `postgres`; choose one".into()),
        (None, None) => Some("sets neither `sqlite` nor `postgres`; choose one".into()),
        _ => None,
    }
}

/// RFC 1123 label: 1–63 characters, lower-case alphanumerics and `-`, alphanumeric ends.
pub fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Tenant {
        serde_yaml::from_str(yaml).expect("test Tenant parses")
    }

    const BASE: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Tenant
metadata: {name: acme, namespace: acme}
spec:
  api: {tokenSecretRef: {name: t, key: token}}
"#;

    #[test]
    fn a_well_formed_tenant_has_no_problem() {
        let t = parse(&format!("{BASE}  regions: [{{name: eu-west-1}}]\n"));
        assert_eq!(tenant(&t), vec![]);
    }

    #[test]
    fn sqlite_with_several_replicas_names_the_field_and_the_fix() {
        let t = parse(&format!("{BASE}  regions: [{{name: eu, replicas: 3}}]\n"));
        let problems = tenant(&t);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "spec.regions[0].replicas");
        assert!(problems[0].message.contains("PostgreSQL"));
    }

    #[test]
    fn bad_duplicate_and_missing_regions_are_reported() {
        let t = parse(&format!(
            "{BASE}  regions: [{{name: EU}}, {{name: us}}, {{name: us}}]\n"
        ));
        let fields: Vec<_> = tenant(&t).into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["spec.regions[0].name", "spec.regions[2].name"]);
        let t = parse(&format!("{BASE}  regions: []\n"));
        assert_eq!(tenant(&t)[0].field, "spec.regions");
    }

    #[test]
    fn the_operators_own_labels_and_annotations_are_refused() {
        let t = parse(&format!(
            "{BASE}  regions: [{{name: eu}}]\n  pod:\n    labels: {{app.kubernetes.io/name: x, team: a}}\n    annotations: {{switchyard.dev/config-hash: x, app.kubernetes.io/part-of: fine}}\n  serviceAccount:\n    labels: {{switchyard.dev/tenant: other}}\n"
        ));
        let fields: Vec<_> = tenant(&t).into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "spec.pod.labels",
                "spec.pod.annotations",
                "spec.serviceAccount.labels"
            ]
        );
    }
}
