use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::RegionInput;
use crate::names::{RUNNER_PORT, RUNNER_PORT_NAME};

/// The region's webhooks, API and `/metrics`, inside the cluster. Expose it with an
/// Ingress or Gateway of your choice (and allow its namespace in `spec.network`).
pub fn build_service(input: &RegionInput<'_>) -> Service {
    Service {
        metadata: input.metadata(),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(input.selector()),
            ports: Some(vec![ServicePort {
                name: Some(RUNNER_PORT_NAME.to_owned()),
                port: RUNNER_PORT,
                target_port: Some(IntOrString::String(RUNNER_PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn selects_only_its_regions_runners() {
        let fixture = Fixture::load("two-regions");
        let selector = build_service(&fixture.input(0))
            .spec
            .unwrap_or_default()
            .selector;
        let selector = selector.unwrap_or_default();
        assert_eq!(selector["app.kubernetes.io/instance"], "acme-eu-west-1");
    }
}
