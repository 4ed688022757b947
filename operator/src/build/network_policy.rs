use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::RegionInput;
use crate::config::{ApiEndpoint, MetricsScraper};
use crate::names::RUNNER_PORT;

/// Ingress only to the runner port, only from the tenant's own namespace, the operator,
/// the metrics scraper (when the operator was told of one: the chart does so when its
/// PodMonitor is enabled) and the sources the Tenant lists. Egress is open unless the
/// Tenant lists destinations; then only those, cluster DNS and the Kubernetes API (the
/// runners report Route and Connection status there). Other tenants' pods match none of
/// these peers.
pub fn build_network_policy(input: &RegionInput<'_>) -> NetworkPolicy {
    let network = input.tenant.spec.network.clone().unwrap_or_default();
    let mut from = vec![
        // Pods of the tenant's own namespace (an empty pod selector, no namespace selector).
        NetworkPolicyPeer {
            pod_selector: Some(LabelSelector::default()),
            ..NetworkPolicyPeer::default()
        },
        namespace_peer(input.operator_namespace),
    ];
    from.extend(input.scraper.map(scraper_peer));
    from.extend(network.ingress_from);
    let mut policy_types = vec!["Ingress".to_owned()];
    let egress = network.egress.map(|rules| {
        policy_types.push("Egress".to_owned());
        let mut all = vec![dns_egress()];
        all.extend(api_server_egress(input.api_server));
        all.extend(rules);
        all
    });
    NetworkPolicy {
        metadata: input.metadata(),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(input.selector()),
                ..LabelSelector::default()
            }),
            policy_types: Some(policy_types),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: Some(vec![tcp(RUNNER_PORT)]),
            }]),
            egress,
        }),
    }
}

fn namespace_peer(namespace: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                namespace.to_owned(),
            )])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// The scraping Prometheus: its pods (by label) in its namespace.
fn scraper_peer(scraper: &MetricsScraper) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: (!scraper.pod_labels.is_empty()).then(|| scraper.pod_labels.clone()),
            ..LabelSelector::default()
        }),
        ..namespace_peer(&scraper.namespace)
    }
}

/// One rule per API server port, to its addresses. None when no address is known (the
/// operator logs that when it reads the endpoints).
fn api_server_egress(endpoints: &[ApiEndpoint]) -> Option<NetworkPolicyEgressRule> {
    if endpoints.is_empty() {
        return None;
    }
    let mut cidrs: Vec<&str> = endpoints.iter().map(|e| e.cidr.as_str()).collect();
    let mut ports: Vec<i32> = endpoints.iter().map(|e| e.port).collect();
    cidrs.sort_unstable();
    cidrs.dedup();
    ports.sort_unstable();
    ports.dedup();
    Some(NetworkPolicyEgressRule {
        to: Some(
            cidrs
                .into_iter()
                .map(|cidr| NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: cidr.to_owned(),
                        except: None,
                    }),
                    ..NetworkPolicyPeer::default()
                })
                .collect(),
        ),
        ports: Some(ports.into_iter().map(tcp).collect()),
    })
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".to_owned()),
        ..NetworkPolicyPort::default()
    }
}

/// Cluster DNS (port 53 in `kube-system`), needed to resolve any allowed destination.
fn dns_egress() -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(vec![namespace_peer("kube-system")]),
        ports: Some(
            ["UDP", "TCP"]
                .map(|protocol| NetworkPolicyPort {
                    port: Some(IntOrString::Int(53)),
                    protocol: Some(protocol.to_owned()),
                    ..NetworkPolicyPort::default()
                })
                .to_vec(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn admits_the_namespace_the_operator_and_listed_sources_on_the_runner_port_only() {
        let fixture = Fixture::load("two-regions");
        let spec = build_network_policy(&fixture.input(0))
            .spec
            .unwrap_or_default();
        let ingress = &spec.ingress.unwrap_or_default()[0];
        assert_eq!(
            ingress.ports.clone().unwrap_or_default(),
            vec![tcp(RUNNER_PORT)]
        );
        let from = ingress.from.clone().unwrap_or_default();
        // own namespace, operator, and the fixture's ingress-nginx namespace
        assert_eq!(from.len(), 3, "{from:?}");
        assert!(from.iter().all(|peer| peer.ip_block.is_none()));
    }

    #[test]
    fn admits_the_metrics_scraper_when_the_operator_knows_one() {
        let fixture = Fixture::load("two-regions");
        let scraper = MetricsScraper {
            namespace: "monitoring".to_owned(),
            pod_labels: BTreeMap::from([(
                "app.kubernetes.io/name".to_owned(),
                "prometheus".to_owned(),
            )]),
        };
        let input = RegionInput {
            scraper: Some(&scraper),
            ..fixture.input(0)
        };
        let spec = build_network_policy(&input).spec.unwrap_or_default();
        let ingress = &spec.ingress.unwrap_or_default()[0];
        let from = ingress.from.clone().unwrap_or_default();
        assert_eq!(from.len(), 4, "{from:?}");
        // Namespace and pod selector in one peer: those pods of that namespace only.
        let peer = &from[2];
        assert_eq!(
            peer.namespace_selector
                .clone()
                .and_then(|s| s.match_labels)
                .unwrap_or_default()
                .get("kubernetes.io/metadata.name")
                .map(String::as_str),
            Some("monitoring")
        );
        assert_eq!(
            peer.pod_selector.clone().and_then(|s| s.match_labels),
            Some(scraper.pod_labels.clone())
        );
        // The metrics are served on the runner port, which is the only one admitted.
        assert_eq!(ingress.ports.clone(), Some(vec![tcp(RUNNER_PORT)]));
    }

    #[test]
    fn restricted_egress_still_reaches_the_api_server() {
        let fixture = Fixture::load("two-regions");
        let endpoints = [
            ApiEndpoint {
                cidr: "172.18.0.2/32".to_owned(),
                port: 6443,
            },
            ApiEndpoint {
                cidr: "172.18.0.3/32".to_owned(),
                port: 6443,
            },
        ];
        let input = RegionInput {
            api_server: &endpoints,
            ..fixture.input(0)
        };
        let egress = build_network_policy(&input)
            .spec
            .unwrap_or_default()
            .egress
            .unwrap_or_default();
        // DNS, the API server, the Tenant's rule.
        assert_eq!(egress.len(), 3, "{egress:?}");
        let api = &egress[1];
        let cidrs: Vec<String> = api
            .to
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.ip_block.map(|b| b.cidr))
            .collect();
        assert_eq!(cidrs, ["172.18.0.2/32", "172.18.0.3/32"]);
        assert_eq!(api.ports.clone(), Some(vec![tcp(6443)]));
    }

    #[test]
    fn restricts_egress_only_when_the_tenant_lists_destinations() {
        let fixture = Fixture::load("two-regions");
        let spec = build_network_policy(&fixture.input(0))
            .spec
            .unwrap_or_default();
        // The fixture lists one egress rule; DNS is added (and the API server, when its
        // address is known).
        assert_eq!(spec.egress.map(|e| e.len()), Some(2));
        let mut open = fixture.tenant.clone();
        open.spec.network = None;
        let input = RegionInput {
            tenant: &open,
            ..fixture.input(0)
        };
        let spec = build_network_policy(&input).spec.unwrap_or_default();
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_owned()]));
        assert!(spec.egress.is_none());
    }
}
