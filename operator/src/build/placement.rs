//! Where a region's runner pods are scheduled: the region's nodes (required, preferred or
//! anywhere), combined with the Tenant's node selector, tolerations, affinity and spread.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PreferredSchedulingTerm, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use switchyard_crds::v1alpha1::{Placement, RegionPlacement};

use super::RegionInput;
use crate::names::{NODE_REGION_LABEL, NODE_ZONE_LABEL};

/// The scheduling fields of a runner pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scheduling {
    pub affinity: Option<Affinity>,
    pub node_selector: Option<BTreeMap<String, String>>,
    pub tolerations: Option<Vec<Toleration>>,
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
}

/// The scheduling of `input`'s runner pods.
pub fn scheduling(input: &RegionInput<'_>) -> Scheduling {
    let placement = input.tenant.spec.placement.clone().unwrap_or_default();
    let Placement {
        region,
        node_selector,
        tolerations,
        affinity,
        topology_spread_constraints,
    } = placement;
    let spread = topology_spread_constraints
        .unwrap_or_else(|| vec![zone_spread()])
        .into_iter()
        .map(|mut constraint| {
            // A constraint without a selector counts the region's own runners.
            constraint
                .label_selector
                .get_or_insert_with(|| LabelSelector {
                    match_labels: Some(input.selector()),
                    ..LabelSelector::default()
                });
            constraint
        })
        .collect::<Vec<_>>();
    let affinity = with_region(
        affinity.unwrap_or_default(),
        &input.region.name,
        region.unwrap_or_default(),
    );
    Scheduling {
        affinity: (affinity != Affinity::default()).then_some(affinity),
        node_selector: (!node_selector.is_empty()).then_some(node_selector),
        tolerations: (!tolerations.is_empty()).then_some(tolerations),
        topology_spread_constraints: (!spread.is_empty()).then_some(spread),
    }
}

/// One runner per zone before a second in any zone, but never unschedulable for it.
fn zone_spread() -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: NODE_ZONE_LABEL.to_owned(),
        when_unsatisfiable: "ScheduleAnyway".to_owned(),
        ..TopologySpreadConstraint::default()
    }
}

fn in_region(region: &str) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: NODE_REGION_LABEL.to_owned(),
        operator: "In".to_owned(),
        values: Some(vec![region.to_owned()]),
    }
}

/// Adds the region to `affinity`. Required: the region's requirement joins every node
/// selector term (terms are alternatives, so each must name the region), or forms the
/// only term. Preferred: the heaviest preference. Off: `affinity` as given.
fn with_region(mut affinity: Affinity, region: &str, placement: RegionPlacement) -> Affinity {
    if placement == RegionPlacement::Off {
        return affinity;
    }
    let node = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    match placement {
        RegionPlacement::Required => {
            let selector = node
                .required_during_scheduling_ignored_during_execution
                .get_or_insert_with(NodeSelector::default);
            if selector.node_selector_terms.is_empty() {
                selector
                    .node_selector_terms
                    .push(NodeSelectorTerm::default());
            }
            for term in &mut selector.node_selector_terms {
                term.match_expressions
                    .get_or_insert_with(Vec::new)
                    .insert(0, in_region(region));
            }
        }
        RegionPlacement::Preferred => {
            node.preferred_during_scheduling_ignored_during_execution
                .get_or_insert_with(Vec::new)
                .insert(
                    0,
                    PreferredSchedulingTerm {
                        weight: 100,
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![in_region(region)]),
                            ..NodeSelectorTerm::default()
                        },
                    },
                );
        }
        RegionPlacement::Off => {}
    }
    affinity
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    fn required_terms(scheduling: &Scheduling) -> Vec<NodeSelectorTerm> {
        scheduling
            .affinity
            .clone()
            .and_then(|a| a.node_affinity)
            .and_then(|n| n.required_during_scheduling_ignored_during_execution)
            .map(|s| s.node_selector_terms)
            .unwrap_or_default()
    }

    #[test]
    fn by_default_pods_require_their_region_and_spread_across_zones() {
        let fixture = Fixture::load("two-regions");
        let mut tenant = fixture.tenant.clone();
        tenant.spec.placement = None;
        let input = RegionInput {
            tenant: &tenant,
            ..fixture.input(0)
        };
        let scheduling = scheduling(&input);
        assert_eq!(
            required_terms(&scheduling),
            vec![NodeSelectorTerm {
                match_expressions: Some(vec![in_region("eu-west-1")]),
                ..NodeSelectorTerm::default()
            }]
        );
        let spread = scheduling.topology_spread_constraints.unwrap_or_default();
        assert_eq!(spread.len(), 1);
        assert_eq!(spread[0].topology_key, NODE_ZONE_LABEL);
        assert_eq!(spread[0].when_unsatisfiable, "ScheduleAnyway");
        assert_eq!(
            spread[0]
                .label_selector
                .clone()
                .and_then(|s| s.match_labels),
            Some(input.selector())
        );
        assert_eq!(scheduling.tolerations, None);
        assert_eq!(scheduling.node_selector, None);
    }

    #[test]
    fn the_tenants_node_terms_each_get_the_region() {
        let fixture = Fixture::load("two-regions");
        let mut tenant = fixture.tenant.clone();
        let term = |key: &str| NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: key.to_owned(),
                operator: "Exists".to_owned(),
                values: None,
            }]),
            ..NodeSelectorTerm::default()
        };
        tenant.spec.placement = Some(Placement {
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![term("pool-a"), term("pool-b")],
                    }),
                    ..NodeAffinity::default()
                }),
                ..Affinity::default()
            }),
            topology_spread_constraints: Some(Vec::new()),
            ..Placement::default()
        });
        let scheduling = scheduling(&RegionInput {
            tenant: &tenant,
            ..fixture.input(0)
        });
        let terms = required_terms(&scheduling);
        assert_eq!(terms.len(), 2, "{terms:?}");
        for term in terms {
            let expressions = term.match_expressions.unwrap_or_default();
            assert_eq!(expressions[0], in_region("eu-west-1"));
            assert_eq!(expressions.len(), 2);
        }
        assert_eq!(scheduling.topology_spread_constraints, None);
    }

    #[test]
    fn region_placement_can_be_preferred_or_off() {
        let fixture = Fixture::load("two-regions");
        let mut tenant = fixture.tenant.clone();
        let mut with = |region| {
            tenant.spec.placement = Some(Placement {
                region: Some(region),
                ..Placement::default()
            });
            scheduling(&RegionInput {
                tenant: &tenant,
                ..fixture.input(0)
            })
        };
        let preferred = with(RegionPlacement::Preferred);
        assert!(required_terms(&preferred).is_empty());
        let preferences = preferred
            .affinity
            .and_then(|a| a.node_affinity)
            .and_then(|n| n.preferred_during_scheduling_ignored_during_execution)
            .unwrap_or_default();
        assert_eq!(preferences[0].weight, 100);
        assert_eq!(
            preferences[0].preference.match_expressions,
            Some(vec![in_region("eu-west-1")])
        );
        assert_eq!(with(RegionPlacement::Off).affinity, None);
    }
}
