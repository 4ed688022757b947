//! Reconcile scenarios against an in-memory API server (see `support/fake_api.rs`): a
//! real `kube::Client` sends the operator's requests, so list, server-side apply, status
//! apply and delete go through the same code as in a cluster.
//!
//! Start with `a_tenant_with_two_regions_and_three_routes_gets_these_objects`: it lists
//! every object a tenant gets, and `tests/golden/two-regions.yaml` shows them in full
//! (regenerate with `UPDATE_GOLDEN=1 cargo test -p switchyard-operator --test reconcile`).

// Test helpers outside #[test] functions panic on broken fixtures, which is their job.
#![allow(clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{API, FakeApi, TWO_REGIONS, children_of, condition, config, reconcile_tenant, text};

fn objects(kind_names: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = kind_names
        .iter()
        .map(|(k, n)| ((*k).to_owned(), (*n).to_owned()))
        .collect();
    list.sort();
    list
}

const EVERY_REGION_OBJECT: [&str; 7] = [
    "ConfigMap",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Role",
    "RoleBinding",
    "Service",
    "ServiceAccount",
];

fn region_objects(name: &str, workload: &'static str) -> Vec<(&'static str, String)> {
    EVERY_REGION_OBJECT
        .iter()
        .map(|k| (*k, name.to_owned()))
        .chain([(workload, name.to_owned())])
        .collect()
}

#[tokio::test]
async fn a_tenant_with_two_regions_and_three_routes_gets_these_objects() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");

    // Per region: ServiceAccount, Role, RoleBinding, ConfigMap, Service, NetworkPolicy,
    // PodDisruptionBudget and the runner workload: a StatefulSet for the SQLite queue of
    // eu-west-1, a Deployment for the PostgreSQL queue of us-east-1.
    let eu = region_objects("acme-eu-west-1", "StatefulSet");
    let us = region_objects("acme-us-east-1", "Deployment");
    let expected: Vec<(&str, &str)> = eu
        .iter()
        .chain(&us)
        .map(|(k, n)| (*k, n.as_str()))
        .collect();
    assert_eq!(children_of(&api, "acme"), objects(&expected));

    let tenant = api.get(API, "Tenant", "acme", "acme").expect("tenant");
    let uid = tenant["metadata"]["uid"].clone();
    for object in api
        .objects()
        .iter()
        .filter(|o| o["metadata"]["labels"]["switchyard.dev/tenant"] == "acme")
    {
        let owners = object["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(owners.len(), 1, "{}", object["metadata"]["name"]);
        assert_eq!(owners[0]["kind"], "Tenant");
        assert_eq!(owners[0]["uid"], uid);
        assert_eq!(owners[0]["controller"], true);
        assert_eq!(object["metadata"]["namespace"], "acme");
    }
    for workload in [
        api.get("apps/v1", "StatefulSet", "acme", "acme-eu-west-1"),
        api.get("apps/v1", "Deployment", "acme", "acme-us-east-1"),
    ] {
        assert_restricted(&workload.expect("workload exists")["spec"]["template"]["spec"]);
    }
    // The ValueTable the Transformer names is read, validated and reported on.
    let table = api
        .get(API, "ValueTable", "acme", "countries")
        .expect("value table");
    assert_eq!(condition(&table, "Ready")["status"], "True", "{table}");
    // Every write is a server-side apply with the operator's one field manager.
    for request in api.requests().iter().filter(|r| r.is_write()) {
        assert_eq!(request.method, http::Method::PATCH, "{request:?}");
        assert!(
            request.query.contains("fieldManager=switchyard-operator"),
            "{request:?}"
        );
        assert!(request.query.contains("force=true"), "{request:?}");
        let body = request.body.clone().unwrap_or_default();
        assert!(
            body["apiVersion"].is_string() && body["kind"].is_string(),
            "{request:?}"
        );
    }
    golden("two-regions", &api);
}

fn assert_restricted(pod: &Value) {
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    for container in pod["containers"].as_array().cloned().unwrap_or_default() {
        let sc = &container["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    }
}

/// Compares the tenant's objects with `tests/golden/<name>.yaml`, or rewrites it when
/// `UPDATE_GOLDEN` is set.
fn golden(name: &str, api: &FakeApi) {
    let mut objects: Vec<Value> = api
        .objects()
        .into_iter()
        .filter(|o| o["metadata"]["labels"]["switchyard.dev/tenant"].is_string())
        .map(|mut o| {
            // Server-assigned, not the operator's.
            if let Some(meta) = o["metadata"].as_object_mut() {
                for key in ["uid", "resourceVersion", "generation", "creationTimestamp"] {
                    meta.remove(key);
                }
            }
            o
        })
        .collect();
    objects.sort_by_key(|o| (text(&o["kind"]), text(&o["metadata"]["name"])));
    let rendered: String = objects
        .iter()
        .map(|o| serde_yaml::to_string(o).expect("renders"))
        .collect::<Vec<_>>()
        .join("---\n");
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.yaml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == rendered,
        "{} differs from what the operator creates; review and regenerate with \
         `UPDATE_GOLDEN=1 cargo test -p switchyard-operator --test reconcile`",
        path.display()
    );
}

#[tokio::test]
async fn a_second_reconcile_with_nothing_changed_writes_nothing() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("first reconcile");
    api.clear_requests();
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("second reconcile");
    let writes: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(writes.is_empty(), "unexpected writes: {writes:#?}");
}

#[tokio::test]
async fn an_invalid_route_is_not_ready_naming_the_field_while_valid_routes_keep_running() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.seed(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: broken, namespace: acme}
spec:
  incoming: {webhook: {}}
  outgoing: {connection: no-such-system}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: misspelled, namespace: acme}
spec:
  incoming: {webhook: {}}
  outgoing: {connection: erp, htpp: {}}
"#,
    );
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");

    let broken = api.get(API, "Route", "acme", "broken").expect("route");
    let ready = condition(&broken, "Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "InvalidSpec");
    assert!(
        text(&ready["message"]).contains("field `spec.outgoing.connection`"),
        "{ready}"
    );
    assert!(
        text(&ready["message"]).contains("no-such-system"),
        "{ready}"
    );
    let misspelled = condition(
        &api.get(API, "Route", "acme", "misspelled").expect("route"),
        "Ready",
    );
    assert!(
        text(&misspelled["message"]).contains("htpp"),
        "{misspelled}"
    );

    // The valid routes are in the runners' configuration; the invalid ones are not.
    let config_map = api
        .get("v1", "ConfigMap", "acme", "acme-eu-west-1")
        .expect("config map");
    let catalog = text(&config_map["data"]["catalog.yaml"]);
    assert!(
        catalog.contains("name: orders") && catalog.contains("name: eu-invoices"),
        "{catalog}"
    );
    assert!(
        !catalog.contains("broken") && !catalog.contains("misspelled"),
        "{catalog}"
    );
    let orders = api.get(API, "Route", "acme", "orders").expect("route");
    assert_eq!(condition(&orders, "Degraded")["status"], "False");
    assert_ne!(condition(&orders, "Ready")["reason"], "InvalidSpec");

    let tenant = api.get(API, "Tenant", "acme", "acme").expect("tenant");
    let degraded = condition(&tenant, "Degraded");
    assert_eq!(
        (degraded["status"].clone(), degraded["reason"].clone()),
        (json!("True"), json!("InvalidResources"))
    );
    assert!(
        text(&degraded["message"]).contains("Route/acme/broken"),
        "{degraded}"
    );
    assert_eq!(tenant["status"]["routes"], 3);
}

#[tokio::test]
async fn tenants_are_isolated_by_namespace() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.seed(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Tenant
metadata: {name: globex, namespace: globex}
spec:
  regions: [{name: eu-west-1}]
  api: {tokenSecretRef: {name: globex-api, key: token}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: crm, namespace: globex}
spec: {http: {baseUrl: "https://crm.globex.example/"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: leads, namespace: globex}
spec:
  incoming: {webhook: {}}
  outgoing: {connection: crm}
---
# A second Tenant in acme's namespace must not take it over.
apiVersion: switchyard.dev/v1alpha1
kind: Tenant
metadata: {name: intruder, namespace: acme, creationTimestamp: "2030-01-01T00:00:00Z"}
spec:
  regions: [{name: eu-west-1}]
  api: {tokenSecretRef: {name: acme-api, key: token}}
"#,
    );
    for (namespace, name) in [("acme", "acme"), ("globex", "globex"), ("acme", "intruder")] {
        reconcile_tenant(&api, namespace, name, config())
            .await
            .expect("reconciles");
    }

    for object in api
        .objects()
        .iter()
        .filter(|o| o["metadata"]["labels"]["switchyard.dev/tenant"] == "globex")
    {
        assert_eq!(object["metadata"]["namespace"], "globex");
        let yaml = serde_yaml::to_string(object).expect("renders");
        for acme in ["acme", "erp", "orders", "shop-webhook", "erp-credentials"] {
            assert!(
                !yaml.contains(acme),
                "globex object mentions {acme}: {yaml}"
            );
        }
    }
    let globex = api
        .get("v1", "ConfigMap", "globex", "globex-eu-west-1")
        .expect("config map");
    assert!(text(&globex["data"]["catalog.yaml"]).contains("name: leads"));
    let binding = api
        .get(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "globex",
            "globex-eu-west-1",
        )
        .expect("binding");
    assert_eq!(binding["subjects"][0]["namespace"], "globex");

    assert!(children_of(&api, "intruder").is_empty());
    let intruder = api.get(API, "Tenant", "acme", "intruder").expect("tenant");
    let ready = condition(&intruder, "Ready");
    assert_eq!(
        (ready["status"].clone(), ready["reason"].clone()),
        (json!("False"), json!("DuplicateTenant"))
    );
    assert!(
        text(&ready["message"]).contains("Tenant `acme` already serves namespace `acme`"),
        "{ready}"
    );
}

#[tokio::test]
async fn routes_run_only_in_their_regions_and_region_flag_limits_the_operator() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    let mut us_only = config();
    us_only.region = Some("us-east-1".to_owned());
    reconcile_tenant(&api, "acme", "acme", us_only)
        .await
        .expect("reconciles");

    let us = region_objects("acme-us-east-1", "Deployment");
    let expected: Vec<(&str, &str)> = us.iter().map(|(k, n)| (*k, n.as_str())).collect();
    assert_eq!(children_of(&api, "acme"), objects(&expected));
    let catalog = text(
        &api.get("v1", "ConfigMap", "acme", "acme-us-east-1")
            .expect("cm")["data"]["catalog.yaml"],
    );
    assert!(
        catalog.contains("name: us-stock") && catalog.contains("name: orders"),
        "{catalog}"
    );
    assert!(!catalog.contains("eu-invoices"), "{catalog}");

    let eu_invoices = condition(
        &api.get(API, "Route", "acme", "eu-invoices").expect("route"),
        "Ready",
    );
    assert_eq!(eu_invoices["reason"], "RunsElsewhere");
    assert!(
        text(&eu_invoices["message"]).contains("eu-west-1"),
        "{eu_invoices}"
    );

    // A route pinned to a region the Tenant does not have is invalid, naming the field.
    api.seed(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: apac, namespace: acme}
spec:
  regions: [ap-south-1]
  incoming: {webhook: {}}
  outgoing: {connection: warehouse}
"#,
    );
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let apac = condition(
        &api.get(API, "Route", "acme", "apac").expect("route"),
        "Ready",
    );
    assert_eq!(apac["reason"], "InvalidSpec");
    assert!(
        text(&apac["message"]).contains("field `spec.regions[0]`"),
        "{apac}"
    );
}

#[tokio::test]
async fn objects_of_a_removed_region_are_deleted_and_a_deleted_tenant_takes_everything() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    api.edit(API, "Tenant", "acme", "acme", |tenant| {
        tenant["spec"]["regions"]
            .as_array_mut()
            .expect("regions")
            .retain(|r| r["name"] == "eu-west-1");
    });
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let eu = region_objects("acme-eu-west-1", "StatefulSet");
    let expected: Vec<(&str, &str)> = eu.iter().map(|(k, n)| (*k, n.as_str())).collect();
    assert_eq!(children_of(&api, "acme"), objects(&expected));
    let deletes = api
        .requests()
        .into_iter()
        .filter(|r| r.method == http::Method::DELETE)
        .count();
    assert_eq!(deletes, 8);

    // Everything carries an owner reference to the Tenant: deleting it (the garbage
    // collector, emulated) leaves nothing; no finalizer is needed.
    api.delete(API, "Tenant", "acme", "acme");
    assert!(children_of(&api, "acme").is_empty());
}

#[tokio::test]
async fn ready_follows_the_runners() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let tenant = api.get(API, "Tenant", "acme", "acme").expect("tenant");
    assert_eq!(condition(&tenant, "Ready")["reason"], "RunnerUnavailable");
    assert_eq!(condition(&tenant, "Progressing")["status"], "True");

    // Both workloads roll out.
    for (kind, name, replicas) in [
        ("StatefulSet", "acme-eu-west-1", 1),
        ("Deployment", "acme-us-east-1", 2),
    ] {
        api.edit("apps/v1", kind, "acme", name, |o| {
            o["status"] = json!({"observedGeneration": 1, "replicas": replicas,
                "readyReplicas": replicas, "updatedReplicas": replicas});
        });
    }
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let tenant = api.get(API, "Tenant", "acme", "acme").expect("tenant");
    let ready = condition(&tenant, "Ready");
    assert_eq!(
        (ready["status"].clone(), ready["reason"].clone()),
        (json!("True"), json!("Running"))
    );
    assert_eq!(condition(&tenant, "Progressing")["status"], "False");
    let orders = condition(
        &api.get(API, "Route", "acme", "orders").expect("route"),
        "Ready",
    );
    assert_eq!(orders["status"], "True");

    // A crash-looping runner turns Ready False, saying which pod and how to look.
    api.seed(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: acme-us-east-1-7d9f-abcde
  namespace: acme
  labels:
    app.kubernetes.io/managed-by: switchyard-operator
    switchyard.dev/tenant: acme
    switchyard.dev/region: us-east-1
status:
  containerStatuses:
    - name: runner
      restartCount: 6
      state: {waiting: {reason: CrashLoopBackOff}}
"#,
    );
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let us_stock = condition(
        &api.get(API, "Route", "acme", "us-stock").expect("route"),
        "Ready",
    );
    assert_eq!(
        (us_stock["status"].clone(), us_stock["reason"].clone()),
        (json!("False"), json!("RunnerCrashLooping"))
    );
    assert!(
        text(&us_stock["message"]).contains("kubectl logs acme-us-east-1-7d9f-abcde"),
        "{us_stock}"
    );
    // eu-invoices runs only in eu-west-1, which is fine.
    let eu_invoices = condition(
        &api.get(API, "Route", "acme", "eu-invoices").expect("route"),
        "Ready",
    );
    assert_eq!(eu_invoices["status"], "True");
}

#[tokio::test]
async fn a_suspended_route_says_so_and_a_paused_tenant_changes_nothing() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.edit(API, "Route", "acme", "orders", |route| {
        route["spec"]["processing"] = json!({"suspend": true});
    });
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let orders = condition(
        &api.get(API, "Route", "acme", "orders").expect("route"),
        "Ready",
    );
    assert_eq!(orders["reason"], "Suspended");
    assert!(
        text(&orders["message"]).contains("queued tasks wait"),
        "{orders}"
    );

    api.edit(API, "Tenant", "acme", "acme", |tenant| {
        tenant["metadata"]["annotations"] = json!({"switchyard.dev/pause-reconciliation": "true"});
        tenant["spec"]["regions"][0]["name"] = json!("eu-central-1");
    });
    api.clear_requests();
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let writes: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| r.path)
        .collect();
    assert_eq!(
        writes,
        ["/apis/switchyard.dev/v1alpha1/namespaces/acme/tenants/acme/status"]
    );
    let tenant = api.get(API, "Tenant", "acme", "acme").expect("tenant");
    assert_eq!(
        condition(&tenant, "Progressing")["reason"],
        "ReconciliationPaused"
    );
    assert!(
        api.get("apps/v1", "StatefulSet", "acme", "acme-eu-west-1")
            .is_some()
    );
}

#[tokio::test]
async fn an_invalid_tenant_changes_nothing_and_says_what_to_fix() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    api.edit(API, "Tenant", "acme", "acme", |tenant| {
        tenant["spec"]["regions"][0]["replicas"] = json!(3);
    });
    api.clear_requests();
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let writes = api.requests().into_iter().filter(|r| r.is_write()).count();
    assert_eq!(writes, 1, "only the Tenant's status");
    let ready = condition(
        &api.get(API, "Tenant", "acme", "acme").expect("tenant"),
        "Ready",
    );
    assert_eq!(ready["reason"], "InvalidSpec");
    assert!(
        text(&ready["message"]).contains("spec.regions[0].replicas"),
        "{ready}"
    );
    assert_eq!(children_of(&api, "acme").len(), 16);
}

#[tokio::test]
async fn a_retry_request_reaches_the_runners_without_restarting_them() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let hash = |api: &FakeApi| {
        api.get("apps/v1", "StatefulSet", "acme", "acme-eu-west-1").expect("sts")["spec"]["template"]["metadata"]
            ["annotations"]["switchyard.dev/config-hash"]
            .clone()
    };
    let before = hash(&api);
    api.edit(API, "Route", "acme", "orders", |route| {
        route["metadata"]["annotations"] =
            json!({"switchyard.dev/retry-failed": "2026-05-01T10:00:00Z"});
    });
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let config_map = api
        .get("v1", "ConfigMap", "acme", "acme-eu-west-1")
        .expect("cm");
    let ops: Value =
        serde_json::from_str(&text(&config_map["data"]["ops.json"])).expect("ops.json");
    assert_eq!(ops["retryFailed"]["orders"], "2026-05-01T10:00:00Z");
    assert_eq!(hash(&api), before, "a retry must not roll the runners");

    // A restart request rolls them.
    api.edit(API, "Tenant", "acme", "acme", |tenant| {
        tenant["metadata"]["annotations"] =
            json!({"switchyard.dev/restarted-at": "2026-05-01T11:00:00Z"});
    });
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let sts = api
        .get("apps/v1", "StatefulSet", "acme", "acme-eu-west-1")
        .expect("sts");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["annotations"]["switchyard.dev/restarted-at"],
        "2026-05-01T11:00:00Z"
    );
}
