use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::RegionInput;

/// At most one runner of a region is evicted at a time. With one replica this still lets
/// a node drain (the runner drains its tasks on SIGTERM and the queue survives), instead
/// of blocking it forever as `minAvailable: 1` would.
pub fn build_pdb(input: &RegionInput<'_>) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: input.metadata(),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(input.selector()),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn allows_one_disruption() {
        let fixture = Fixture::load("two-regions");
        let spec = build_pdb(&fixture.input(1)).spec.unwrap_or_default();
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
        assert!(spec.min_available.is_none());
    }
}
