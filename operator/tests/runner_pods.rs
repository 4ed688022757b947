//! Runner pods as reconciled against the in-memory API: a pod the scheduler cannot place
//! (the newcomer's kind cluster without region labels) makes the Tenant and its Routes
//! say so and how to fix it.

#![allow(clippy::expect_used)]

mod support;

use support::{API, FakeApi, TWO_REGIONS, condition, config, reconcile_tenant};

const PENDING_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: acme-eu-west-1-0
  namespace: acme
  labels:
    app.kubernetes.io/managed-by: switchyard-operator
    switchyard.dev/tenant: acme
    switchyard.dev/region: eu-west-1
status:
  phase: Pending
  conditions:
    - type: PodScheduled
      status: "False"
      reason: Unschedulable
      message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
"#;

#[tokio::test]
async fn an_unschedulable_runner_is_reported_with_the_schedulers_reason_and_the_fix() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.seed(PENDING_POD);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let tenant = api.get(API, "Tenant", "acme", "acme").expect("tenant");
    let ready = condition(&tenant, "Ready");
    assert_eq!(ready["status"], "False", "{tenant}");
    assert_eq!(ready["reason"], "RunnerUnschedulable", "{tenant}");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(message.contains("acme-eu-west-1-0"), "{message}");
    assert!(message.contains("node affinity"), "{message}");
    assert!(message.contains("spec.placement.region: off"), "{message}");
    // The Route pinned to eu-west-1 says the same.
    let route = api.get(API, "Route", "acme", "eu-invoices").expect("route");
    assert_eq!(
        condition(&route, "Ready")["reason"],
        "RunnerUnschedulable",
        "{route}"
    );
}
