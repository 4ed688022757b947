//! The runners' NetworkPolicy as reconciled against the in-memory API: with restricted
//! egress the runners still reach the API server (read from the `default/kubernetes`
//! EndpointSlices, or given to the operator), and the metrics scraper the operator was
//! told of is admitted.

#![allow(clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{FakeApi, TWO_REGIONS, config, reconcile_tenant};
use switchyard_operator::config::{ApiServerEgress, MetricsScraper};

const API_SERVER_SLICE: &str = r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes
  namespace: default
  labels: {kubernetes.io/service-name: kubernetes}
addressType: IPv4
endpoints:
  - addresses: [172.18.0.2]
ports:
  - {name: https, port: 6443, protocol: TCP}
"#;

fn policy(api: &FakeApi, name: &str) -> Value {
    api.get("networking.k8s.io/v1", "NetworkPolicy", "acme", name)
        .expect("the NetworkPolicy exists")
}

/// The egress rule whose destinations are IP blocks of the API server.
fn api_server_rule(policy: &Value, cidr: &str) -> Option<Value> {
    policy["spec"]["egress"]
        .as_array()?
        .iter()
        .find(|rule| {
            rule["to"]
                .as_array()
                .is_some_and(|to| to.iter().any(|peer| peer["ipBlock"]["cidr"] == cidr))
        })
        .cloned()
}

#[tokio::test]
async fn restricted_egress_admits_the_api_server_read_from_its_endpointslices() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.seed(API_SERVER_SLICE);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    for name in ["acme-eu-west-1", "acme-us-east-1"] {
        let rule = api_server_rule(&policy(&api, name), "172.18.0.2/32")
            .unwrap_or_else(|| panic!("{name}: no egress rule to the API server"));
        assert_eq!(rule["ports"], json!([{"port": 6443, "protocol": "TCP"}]));
    }
    // The EndpointSlices were listed by the service's label, in `default` only.
    let listed: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/endpointslices"))
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        listed[0].path,
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
    );
    assert!(listed[0].query.contains("service-name"), "{:?}", listed[0]);
}

#[tokio::test]
async fn configured_api_server_addresses_are_used_without_reading_endpointslices() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.seed(API_SERVER_SLICE);
    let mut config = config();
    config.api_server = ApiServerEgress {
        cidrs: vec!["10.0.0.0/30".to_owned()],
        ports: vec![443],
    };
    reconcile_tenant(&api, "acme", "acme", config)
        .await
        .expect("reconciles");
    let rule = api_server_rule(&policy(&api, "acme-eu-west-1"), "10.0.0.0/30")
        .expect("an egress rule to the configured API server");
    assert_eq!(rule["ports"], json!([{"port": 443, "protocol": "TCP"}]));
    assert!(
        api_server_rule(&policy(&api, "acme-eu-west-1"), "172.18.0.2/32").is_none(),
        "the EndpointSlice address is not used when addresses are configured"
    );
    assert!(
        !api.requests()
            .iter()
            .any(|r| r.path.ends_with("/endpointslices"))
    );
}

#[tokio::test]
async fn open_egress_needs_no_api_server_rule_and_reads_nothing() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.edit(support::API, "Tenant", "acme", "acme", |t| {
        t["spec"]["network"]
            .as_object_mut()
            .map(|n| n.remove("egress"));
    });
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let policy = policy(&api, "acme-eu-west-1");
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
    assert!(
        !api.requests()
            .iter()
            .any(|r| r.path.ends_with("/endpointslices"))
    );
}

#[tokio::test]
async fn the_metrics_scraper_is_admitted_on_the_runner_port() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    let mut config = config();
    config.scraper = Some(MetricsScraper {
        namespace: "monitoring".to_owned(),
        pod_labels: [("app.kubernetes.io/name".to_owned(), "prometheus".to_owned())].into(),
    });
    reconcile_tenant(&api, "acme", "acme", config)
        .await
        .expect("reconciles");
    let ingress = &policy(&api, "acme-eu-west-1")["spec"]["ingress"][0];
    assert_eq!(ingress["ports"], json!([{"port": 8080, "protocol": "TCP"}]));
    let scraper = json!({
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    });
    assert!(
        ingress["from"]
            .as_array()
            .is_some_and(|from| from.contains(&scraper)),
        "{ingress}"
    );
}
