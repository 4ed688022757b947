//! What the statuses say: invalid routes and tenants name the field to fix, readiness
//! follows the runners, suspension and pause, and retry requests.

use crate::support::{
    API, FakeApi, TWO_REGIONS, children_of, condition, config, reconcile_tenant, text,
};
use serde_json::{Value, json};

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
