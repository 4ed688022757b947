use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::RegionInput;
use crate::names::RUNNER_PORT;

/// Ingress only to the runner port, only from the tenant's own namespace, the operator
/// and the sources the Tenant lists. Egress is open unless the Tenant lists destinations;
/// then only those and cluster DNS. Other tenants' pods match none of these peers.
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
    from.extend(network.ingress_from);
    let mut policy_types = vec!["Ingress".to_owned()];
    let egress = network.egress.map(|rules| {
        policy_types.push("Egress".to_owned());
        let mut all = vec![dns_egress()];
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
    fn restricts_egress_only_when_the_tenant_lists_destinations() {
        let fixture = Fixture::load("two-regions");
        let spec = build_network_policy(&fixture.input(0))
            .spec
            .unwrap_or_default();
        // The fixture lists one egress rule; DNS is added.
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
