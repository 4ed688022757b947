use k8s_openapi::api::core::v1::ServiceAccount;

use super::RegionInput;

/// The identity of the region's runner pods; bound to the Role of [`super::build_role`].
pub fn build_service_account(input: &RegionInput<'_>) -> ServiceAccount {
    ServiceAccount {
        metadata: input.metadata(),
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
}
