//! The operator's fixed vocabulary: field manager, labels, annotations, object names.
//! Everything the operator writes or reads by name is defined here once.

use std::collections::BTreeMap;

/// The one field manager of every server-side apply the operator sends.
pub const FIELD_MANAGER: &str = "switchyard-operator";

/// `app.kubernetes.io/managed-by` value on every object the operator creates.
pub const MANAGED_BY: &str = "switchyard-operator";
/// `app.kubernetes.io/name` of runner objects.
pub const RUNNER_APP: &str = "switchyard-runner";

/// Label: the Tenant an object belongs to.
pub const LABEL_TENANT: &str = "switchyard.dev/tenant";
/// Label: the region an object serves.
pub const LABEL_REGION: &str = "switchyard.dev/region";
/// Node label the runners of a region are placed by.
pub const NODE_REGION_LABEL: &str = "topology.kubernetes.io/region";
/// Node label the runners of a region spread over.
pub const NODE_ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Label and annotation prefixes the operator sets itself; a Tenant may not set keys
/// under them on the runners' pods or ServiceAccounts.
pub const RESERVED_PREFIXES: [&str; 2] = ["app.kubernetes.io/", "switchyard.dev/"];

/// Tenant annotation: `"true"` stops the operator from changing anything of the tenant
/// (its status says so) until removed.
pub const ANNOTATION_PAUSE: &str = "switchyard.dev/pause-reconciliation";
/// Tenant annotation: any new value (e.g. a timestamp) restarts the tenant's runners,
/// like `kubectl rollout restart`. Copied to the pod template.
pub const ANNOTATION_RESTART: &str = "switchyard.dev/restarted-at";
/// Route annotation: any new value (e.g. a timestamp) asks the runners to retry the
/// Route's failed tasks once. Passed to the runners in `ops.json`, not in the config hash.
pub const ANNOTATION_RETRY_FAILED: &str = "switchyard.dev/retry-failed";
/// Pod template annotation: hash of the runner configuration; a change rolls the pods.
pub const ANNOTATION_CONFIG_HASH: &str = "switchyard.dev/config-hash";

/// ConfigMap key of the compiled manifests.
pub const CATALOG_KEY: &str = "catalog.yaml";
/// ConfigMap key of pending operations (retry requests), read by the runner on reload.
pub const OPS_KEY: &str = "ops.json";

/// Port the runner serves webhooks, the API, `/metrics` and probes on.
pub const RUNNER_PORT: i32 = 8080;
/// Name of that port.
pub const RUNNER_PORT_NAME: &str = "http";
/// Where the catalog ConfigMap is mounted.
pub const CATALOG_DIR: &str = "/etc/switchyard/catalog";
/// Where each referenced Secret is mounted, one directory per Secret.
pub const SECRETS_DIR: &str = "/var/run/switchyard/secrets";
/// The runner's data directory (the SQLite queue's volume).
pub const DATA_DIR: &str = "/var/lib/switchyard";
/// UID and GID the runner runs as (the distroless `nonroot` user).
pub const RUNNER_UID: i64 = 65532;

/// Name of every object of one tenant's region: `<tenant>-<region>`.
pub fn region_object_name(tenant: &str, region: &str) -> String {
    format!("{tenant}-{region}")
}

/// Labels selecting the runner pods of one tenant's region.
pub fn selector_labels(tenant: &str, region: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), RUNNER_APP.to_owned()),
        (
            "app.kubernetes.io/instance".to_owned(),
            region_object_name(tenant, region),
        ),
    ])
}

/// Labels on every object of one tenant's region.
pub fn region_labels(tenant: &str, region: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(tenant, region);
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        MANAGED_BY.to_owned(),
    );
    labels.insert(
        "app.kubernetes.io/component".to_owned(),
        "runner".to_owned(),
    );
    labels.insert(LABEL_TENANT.to_owned(), tenant.to_owned());
    labels.insert(LABEL_REGION.to_owned(), region.to_owned());
    labels
}

/// Label selector of every object the operator made for one tenant.
pub fn tenant_selector(tenant: &str) -> String {
    format!("app.kubernetes.io/managed-by={MANAGED_BY},{LABEL_TENANT}={tenant}")
}
