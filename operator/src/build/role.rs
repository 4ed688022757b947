use k8s_openapi::api::rbac::v1::{PolicyRule, Role};

use super::RegionInput;

/// Least privilege, confined to the tenant's namespace: the runner may read its own
/// ConfigMap (by name) and report data-plane status on the namespace's Routes and
/// Connections. It may not read Secrets (they are mounted) nor anything else.
pub fn build_role(input: &RegionInput<'_>) -> Role {
    Role {
        metadata: input.metadata(),
        rules: Some(vec![
            PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["configmaps".to_owned()]),
                resource_names: Some(vec![input.name()]),
                verbs: vec!["get".to_owned(), "watch".to_owned()],
                ..PolicyRule::default()
            },
            PolicyRule {
                api_groups: Some(vec![switchyard_crds::API_GROUP.to_owned()]),
                resources: Some(vec![
                    "routes/status".to_owned(),
                    "connections/status".to_owned(),
                ]),
                verbs: vec!["get".to_owned(), "patch".to_owned()],
                ..PolicyRule::default()
            },
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn grants_no_secrets_and_no_wildcards() {
        let fixture = Fixture::load("two-regions");
        let role = build_role(&fixture.input(0));
        assert_eq!(role.metadata.namespace.as_deref(), Some("acme"));
        for rule in role.rules.unwrap_or_default() {
            let resources = rule.resources.unwrap_or_default();
            assert!(!resources.iter().any(|r| r == "secrets" || r == "*"));
            assert!(!rule.verbs.iter().any(|v| v == "*" || v == "delete"));
        }
    }
}
