use k8s_openapi::api::core::v1::ServiceAccount;

use super::{RegionInput, merged};

/// The identity of the region's runner pods; bound to the Role of [`super::build_role`].
/// Carries the Tenant's `spec.serviceAccount` annotations and labels (a cloud IAM role
/// binding, for instance) under the operator's labels.
pub fn build_service_account(input: &RegionInput<'_>) -> ServiceAccount {
    let settings = input
        .tenant
        .spec
        .service_account
        .clone()
        .unwrap_or_default();
    let mut metadata = input.metadata();
    metadata.labels = Some(merged(&settings.labels, input.labels()));
    metadata.annotations = (!settings.annotations.is_empty()).then_some(settings.annotations);
    ServiceAccount {
        metadata,
        ..ServiceAccount::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn is_named_after_tenant_and_region_and_owned_by_the_tenant() {
        let fixture = Fixture::load("two-regions");
        let sa = build_service_account(&fixture.input(0));
        assert_eq!(sa.metadata.name.as_deref(), Some("acme-eu-west-1"));
        assert_eq!(sa.metadata.namespace.as_deref(), Some("acme"));
        let owner = &sa.metadata.owner_references.unwrap_or_default()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("Tenant", Some(true))
        );
    }

    #[test]
    fn carries_the_tenants_annotations_and_labels_under_the_operators() {
        let fixture = Fixture::load("two-regions");
        let sa = build_service_account(&fixture.input(0));
        let annotations = sa.metadata.annotations.unwrap_or_default();
        assert_eq!(
            annotations
                .get("eks.amazonaws.com/role-arn")
                .map(String::as_str),
            Some("arn:aws:iam::123456789012:role/acme-runner")
        );
        let labels = sa.metadata.labels.unwrap_or_default();
        assert_eq!(labels.get("team").map(String::as_str), Some("integrations"));
        assert_eq!(
            labels.get("app.kubernetes.io/name").map(String::as_str),
            Some("switchyard-runner")
        );
    }
}
