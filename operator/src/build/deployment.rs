use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{RegionInput, build_pod_template};

/// The runners of a region whose queue is PostgreSQL: stateless, so a Deployment that
/// may scale out. A rollout adds a new pod before an old one drains (`maxUnavailable: 0`),
/// so webhooks stay served; queued and in-flight tasks live in the database.
pub fn build_deployment(input: &RegionInput<'_>) -> Deployment {
    Deployment {
        metadata: input.metadata(),
        spec: Some(DeploymentSpec {
            replicas: Some(input.replicas()),
            selector: LabelSelector {
                match_labels: Some(input.selector()),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: build_pod_template(input),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn has_the_regions_replicas_and_selects_its_pods() {
        let fixture = Fixture::load("two-regions");
        // us-east-1 has a PostgreSQL queue and 2 replicas.
        let spec = build_deployment(&fixture.input(1)).spec.unwrap_or_default();
        assert_eq!(spec.replicas, Some(2));
        let selector = spec.selector.match_labels.unwrap_or_default();
        let pod_labels = spec
            .template
            .metadata
            .unwrap_or_default()
            .labels
            .unwrap_or_default();
        assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
        let env = spec.template.spec.unwrap_or_default().containers[0]
            .env
            .clone()
            .unwrap_or_default();
        let queue = env.iter().find(|e| e.name == "SWITCHYARD_QUEUE_URL");
        assert!(
            queue.and_then(|e| e.value_from.as_ref()).is_some(),
            "{env:?}"
        );
        assert!(queue.and_then(|e| e.value.as_ref()).is_none());
    }
}
