//! Start-up on the in-memory API: the leader server-side applies the CRDs it was built
//! with (so `helm upgrade`, which never updates a chart's `crds/`, still upgrades them),
//! a candidate that does not lead applies nothing, and `--apply-crds=false` turns it off.

#![allow(clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{FakeApi, config, eventually};
use switchyard_operator::crds;
use switchyard_operator::leader::LeaseConfig;
use switchyard_operator::start::{self, Startup};
use tokio_util::sync::CancellationToken;

const CRDS: &str = "apiextensions.k8s.io/v1";

fn crd_names() -> Vec<String> {
    crds::definitions()
        .expect("the embedded CRDs parse")
        .into_iter()
        .filter_map(|crd| crd.metadata.name)
        .collect()
}

fn lease() -> LeaseConfig {
    LeaseConfig {
        retry_period: Duration::from_millis(50),
        renew_deadline: Duration::from_millis(600),
        lease_duration: Duration::from_secs(30),
        ..LeaseConfig::new("switchyard-system", "switchyard-operator", "a")
    }
}

fn crd_writes(api: &FakeApi) -> Vec<support::fake_api::Recorded> {
    api.requests()
        .into_iter()
        .filter(|r| r.is_write() && r.path.contains("/customresourcedefinitions"))
        .collect()
}

#[tokio::test]
async fn the_leader_applies_every_crd_with_server_side_apply() {
    let api = FakeApi::default();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(start::run(
        api.client(),
        config(),
        Startup {
            apply_crds: true,
            leader_election: Some(lease()),
        },
        shutdown.clone(),
    ));
    let names = crd_names();
    assert!(
        names.contains(&"routes.switchyard.dev".to_owned()),
        "{names:?}"
    );
    eventually(
        Duration::from_secs(5),
        "every CRD to be applied",
        || async {
            names
                .iter()
                .all(|name| {
                    api.get(CRDS, "CustomResourceDefinition", "", name)
                        .is_some()
                })
                .then_some(())
        },
    )
    .await;
    shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("stops on shutdown")
        .expect("the task ends");
    assert!(result.is_ok(), "{result:?}");
    let writes = crd_writes(&api);
    assert_eq!(writes.len(), names.len(), "{writes:?}");
    for write in writes {
        assert_eq!(write.method, http::Method::PATCH);
        assert!(
            write.query.contains("fieldManager=switchyard-operator"),
            "{write:?}"
        );
        assert!(write.query.contains("force=true"), "{write:?}");
        let body = write.body.expect("a body");
        assert_eq!(body["kind"], "CustomResourceDefinition");
        assert!(body["spec"]["versions"][0]["schema"].is_object());
    }
    // Applied as generated, byte for byte the chart's copy.
    let routes = api
        .get(
            CRDS,
            "CustomResourceDefinition",
            "",
            "routes.switchyard.dev",
        )
        .expect("stored");
    let generated: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../charts/switchyard-operator/crds/routes.switchyard.dev.yaml"
        ))
        .expect("the chart's CRD"),
    )
    .expect("parses");
    assert_eq!(routes["spec"], generated["spec"]);
}

#[tokio::test]
async fn a_candidate_that_does_not_lead_applies_nothing() {
    let api = FakeApi::default();
    // Another replica holds the Lease and keeps it (its renew time is recent and the
    // candidate never sees the record unchanged for 30 s).
    api.seed(
        r#"
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: switchyard-operator, namespace: switchyard-system}
spec: {holderIdentity: other, leaseDurationSeconds: 30}
"#,
    );
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(start::run(
        api.client(),
        config(),
        Startup {
            apply_crds: true,
            leader_election: Some(lease()),
        },
        shutdown.clone(),
    ));
    eventually(Duration::from_secs(5), "five election rounds", || async {
        (api.requests()
            .iter()
            .filter(|r| r.path.ends_with("/leases/switchyard-operator"))
            .count()
            >= 5)
            .then_some(())
    })
    .await;
    shutdown.cancel();
    let result = run.await.expect("the task ends");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(crd_writes(&api).len(), 0);
    assert!(api.requests().iter().all(|r| r.path.contains("/leases/")));
}

#[tokio::test]
async fn apply_crds_false_applies_nothing() {
    let api = FakeApi::default();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(start::run(
        api.client(),
        config(),
        Startup {
            apply_crds: false,
            leader_election: None,
        },
        shutdown.clone(),
    ));
    // Without leader election the controllers start at once: wait for their first
    // requests (Tenant watches), then stop.
    eventually(
        Duration::from_secs(5),
        "the controllers to start",
        || async {
            api.requests()
                .iter()
                .any(|r| r.path.ends_with("/tenants"))
                .then_some(())
        },
    )
    .await;
    shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("stops on shutdown")
        .expect("the task ends");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(crd_writes(&api).len(), 0);
}

#[tokio::test]
async fn with_watch_namespaces_nothing_is_read_cluster_wide() {
    let api = FakeApi::default();
    let mut config = config();
    config.watch_namespaces = vec!["acme".to_owned(), "globex".to_owned()];
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(start::run(
        api.client(),
        config,
        Startup {
            apply_crds: false,
            leader_election: None,
        },
        shutdown.clone(),
    ));
    let watched = |namespace: &str, plural: &str| {
        let suffix = format!("/namespaces/{namespace}/{plural}");
        api.requests().iter().any(|r| r.path.ends_with(&suffix))
    };
    eventually(
        Duration::from_secs(5),
        "every watch in both namespaces",
        || async {
            ["acme", "globex"]
                .iter()
                .all(|ns| {
                    [
                        "tenants",
                        "routes",
                        "connections",
                        "transformers",
                        "valuetables",
                        "notifications",
                        "variables",
                        "configmaps",
                        "deployments",
                        "statefulsets",
                        "roles",
                        "networkpolicies",
                    ]
                    .iter()
                    .all(|plural| watched(ns, plural))
                })
                .then_some(())
        },
    )
    .await;
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), run).await;
    let cluster_wide: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| {
            !r.path.contains("/namespaces/acme/") && !r.path.contains("/namespaces/globex/")
        })
        .collect();
    assert!(cluster_wide.is_empty(), "{cluster_wide:?}");
}
