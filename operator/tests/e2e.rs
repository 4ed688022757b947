//! End to end against a real cluster: runs only when `KUBECONFIG` is set, otherwise (and
//! in CI, which has no cluster) prints why it skipped. A skip never looks like a pass: the
//! test prints `SKIPPED` on stderr (see `cargo test -- --nocapture`).
//!
//! Needs: the CRDs applied (`kubectl apply -f crds/generated/`), a node labelled
//! `topology.kubernetes.io/region=e2e-1` (`kubectl label node <node>
//! topology.kubernetes.io/region=e2e-1`), and rights to create namespaces. It runs the
//! controller in-process, creates a namespace with a Tenant and a Route, and waits for
//! the objects and the statuses; it does not need the runner image to start, only to
//! become Ready (set `SWITCHYARD_E2E_RUNNER_IMAGE` to check that too).

#![allow(clippy::expect_used)]

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use switchyard_crds::v1alpha1::{Route, Tenant};
use switchyard_operator::config::OperatorConfig;

const NAMESPACE: &str = "switchyard-e2e";

#[tokio::test]
async fn a_tenant_and_a_route_come_up_in_a_real_cluster() {
    if std::env::var_os("KUBECONFIG").is_none() {
        eprintln!(
            "SKIPPED operator e2e: KUBECONFIG is not set; point it at a disposable cluster to run it."
        );
        return;
    }
    let client = kube::Client::try_default()
        .await
        .expect("KUBECONFIG names a reachable cluster");
    let apply = PatchParams::apply("switchyard-e2e").force();
    Api::<Namespace>::all(client.clone())
        .patch(
            NAMESPACE,
            &apply,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
            ),
        )
        .await
        .expect("namespace");
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .patch(
            "e2e-api",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "e2e-api"}, "stringData": {"token": "e2e-token"}})),
        )
        .await
        .expect("secret");
    let image = std::env::var("SWITCHYARD_E2E_RUNNER_IMAGE")
        .unwrap_or_else(|_| "ghcr.io/switchyard/runner:latest".into());
    Api::<Tenant>::namespaced(client.clone(), NAMESPACE)
        .patch(
            "e2e",
            &apply,
            &Patch::Apply(
                json!({"apiVersion": "switchyard.dev/v1alpha1", "kind": "Tenant",
            "metadata": {"name": "e2e"},
            "spec": {"regions": [{"name": "e2e-1"}], "image": image,
                     "api": {"tokenSecretRef": {"name": "e2e-api", "key": "token"}}}}),
            ),
        )
        .await
        .expect("tenant");
    let routes = Api::<Route>::namespaced(client.clone(), NAMESPACE);
    routes
        .patch(
            "echo",
            &apply,
            &Patch::Apply(
                json!({"apiVersion": "switchyard.dev/v1alpha1", "kind": "Route",
            "metadata": {"name": "echo"},
            "spec": {"incoming": {"webhook": {}}, "outgoing": {"connection": "missing"}}}),
            ),
        )
        .await
        .expect("route");

    let controller = tokio::spawn(switchyard_operator::controller::run(
        client.clone(),
        OperatorConfig {
            runner_image: "ghcr.io/switchyard/runner:latest".into(),
            region: None,
            namespace: "switchyard-system".into(),
            ..OperatorConfig::default()
        },
        tokio_util::sync::CancellationToken::new(),
    ));

    let statefulsets = Api::<StatefulSet>::namespaced(client.clone(), NAMESPACE);
    let mut found = false;
    for _ in 0..60 {
        let route = routes.get("echo").await.expect("route readable");
        let reason = route
            .status
            .as_ref()
            .and_then(|s| s.common.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.reason.clone());
        if statefulsets
            .get_opt("e2e-e2e-1")
            .await
            .expect("list")
            .is_some()
            && reason.as_deref() == Some("InvalidSpec")
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    controller.abort();
    let _ = Api::<Namespace>::all(client)
        .delete(NAMESPACE, &DeleteParams::default())
        .await;
    assert!(
        found,
        "within 2 minutes: StatefulSet e2e-e2e-1 and Route echo Ready=False/InvalidSpec"
    );
}
