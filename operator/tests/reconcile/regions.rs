//! Where runners go: one namespace per tenant, routes only in their regions, and what a
//! removed region or a deleted tenant leaves behind (nothing).

use crate::support::{
    API, FakeApi, TWO_REGIONS, children_of, condition, config, reconcile_tenant, text,
};
use crate::{objects, region_objects};
use serde_json::json;

#[tokio::test]
async fn tenants_are_isolated_by_namespace() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.seed(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Tenant
metadata: {name: globex, namespace: globex}
spec:
  regions: [{name: eu-west-1}]
  api: {tokenSecretRef: {name: globex-api, key: token}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: crm, namespace: globex}
spec: {http: {baseUrl: "https://crm.globex.example/"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: leads, namespace: globex}
spec:
  incoming: {webhook: {}}
  outgoing: {connection: crm}
---
# A second Tenant in acme's namespace must not take it over.
apiVersion: switchyard.dev/v1alpha1
kind: Tenant
metadata: {name: intruder, namespace: acme, creationTimestamp: "2030-01-01T00:00:00Z"}
spec:
  regions: [{name: eu-west-1}]
  api: {tokenSecretRef: {name: acme-api, key: token}}
"#,
    );
    for (namespace, name) in [("acme", "acme"), ("globex", "globex"), ("acme", "intruder")] {
        reconcile_tenant(&api, namespace, name, config())
            .await
            .expect("reconciles");
    }

    for object in api
        .objects()
        .iter()
        .filter(|o| o["metadata"]["labels"]["switchyard.dev/tenant"] == "globex")
    {
        assert_eq!(object["metadata"]["namespace"], "globex");
        let yaml = serde_yaml::to_string(object).expect("renders");
        for acme in ["acme", "erp", "orders", "shop-webhook", "erp-credentials"] {
            assert!(
                !yaml.contains(acme),
                "globex object mentions {acme}: {yaml}"
            );
        }
    }
    let globex = api
        .get("v1", "ConfigMap", "globex", "globex-eu-west-1")
        .expect("config map");
    assert!(text(&globex["data"]["catalog.yaml"]).contains("name: leads"));
    let binding = api
        .get(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "globex",
            "globex-eu-west-1",
        )
        .expect("binding");
    assert_eq!(binding["subjects"][0]["namespace"], "globex");

    assert!(children_of(&api, "intruder").is_empty());
    let intruder = api.get(API, "Tenant", "acme", "intruder").expect("tenant");
    let ready = condition(&intruder, "Ready");
    assert_eq!(
        (ready["status"].clone(), ready["reason"].clone()),
        (json!("False"), json!("DuplicateTenant"))
    );
    assert!(
        text(&ready["message"]).contains("Tenant `acme` already serves namespace `acme`"),
        "{ready}"
    );
}

#[tokio::test]
async fn routes_run_only_in_their_regions_and_region_flag_limits_the_operator() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    let mut us_only = config();
    us_only.region = Some("us-east-1".to_owned());
    reconcile_tenant(&api, "acme", "acme", us_only)
        .await
        .expect("reconciles");

    let us = region_objects("acme-us-east-1", "Deployment");
    let expected: Vec<(&str, &str)> = us.iter().map(|(k, n)| (*k, n.as_str())).collect();
    assert_eq!(children_of(&api, "acme"), objects(&expected));
    let catalog = text(
        &api.get("v1", "ConfigMap", "acme", "acme-us-east-1")
            .expect("cm")["data"]["catalog.yaml"],
    );
    assert!(
        catalog.contains("name: us-stock") && catalog.contains("name: orders"),
        "{catalog}"
    );
    assert!(!catalog.contains("eu-invoices"), "{catalog}");

    let eu_invoices = condition(
        &api.get(API, "Route", "acme", "eu-invoices").expect("route"),
        "Ready",
    );
    assert_eq!(eu_invoices["reason"], "RunsElsewhere");
    assert!(
        text(&eu_invoices["message"]).contains("eu-west-1"),
        "{eu_invoices}"
    );

    // A route pinned to a region the Tenant does not have is invalid, naming the field.
    api.seed(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: apac, namespace: acme}
spec:
  regions: [ap-south-1]
  incoming: {webhook: {}}
  outgoing: {connection: warehouse}
"#,
    );
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let apac = condition(
        &api.get(API, "Route", "acme", "apac").expect("route"),
        "Ready",
    );
    assert_eq!(apac["reason"], "InvalidSpec");
    assert!(
        text(&apac["message"]).contains("field `spec.regions[0]`"),
        "{apac}"
    );
}

#[tokio::test]
async fn objects_of_a_removed_region_are_deleted_and_a_deleted_tenant_takes_everything() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    api.edit(API, "Tenant", "acme", "acme", |tenant| {
        tenant["spec"]["regions"]
            .as_array_mut()
            .expect("regions")
            .retain(|r| r["name"] == "eu-west-1");
    });
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let eu = region_objects("acme-eu-west-1", "StatefulSet");
    let expected: Vec<(&str, &str)> = eu.iter().map(|(k, n)| (*k, n.as_str())).collect();
    assert_eq!(children_of(&api, "acme"), objects(&expected));
    let deletes = api
        .requests()
        .into_iter()
        .filter(|r| r.method == http::Method::DELETE)
        .count();
    assert_eq!(deletes, 8);

    // Everything carries an owner reference to the Tenant: deleting it (the garbage
    // collector, emulated) leaves nothing; no finalizer is needed.
    api.delete(API, "Tenant", "acme", "acme");
    assert!(children_of(&api, "acme").is_empty());
}
