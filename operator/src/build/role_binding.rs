use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};

use super::RegionInput;

/// Binds the region's Role to its ServiceAccount, in the tenant's namespace only.
pub fn build_role_binding(input: &RegionInput<'_>) -> RoleBinding {
    RoleBinding {
        metadata: input.metadata(),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: input.name(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: input.name(),
            namespace: Some(input.namespace()),
            ..Subject::default()
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn binds_the_regions_role_to_its_service_account() {
        let fixture = Fixture::load("two-regions");
        let binding = build_role_binding(&fixture.input(1));
        assert_eq!(binding.role_ref.kind, "Role");
        assert_eq!(binding.role_ref.name, "acme-us-east-1");
        let subject = &binding.subjects.unwrap_or_default()[0];
        assert_eq!(subject.name, "acme-us-east-1");
        assert_eq!(subject.namespace.as_deref(), Some("acme"));
    }
}
