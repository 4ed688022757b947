//! A reconcile with `Variables`: the runner gets them (with the ConfigMap they name and
//! a mount of the Secret behind a secret variable), the resources that use them ship as
//! written, and a Route naming an undefined variable is not Ready, naming the field.

#![allow(clippy::expect_used)]

mod support;

use support::{API, FakeApi, TWO_REGIONS, condition, config, reconcile_tenant, text};

const VARIABLES: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Variables
metadata: {name: erp, namespace: acme, generation: 1}
spec:
  values: {ERP_HOST: erp.acme.example}
  secretValues:
    ERP_TOKEN: {secretKeyRef: {name: erp-token, key: token}}
  valuesFrom:
    - configMapRef: {name: erp-settings}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: erp-settings, namespace: acme}
data: {ERP_PATH: /api/v3}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp-vars, namespace: acme}
spec:
  http:
    baseUrl: "https://${{ vars.ERP_HOST }}${{ vars.ERP_PATH }}"
    headers:
      X-Partner-Token: "Bearer ${{ vars.ERP_TOKEN }}"
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: via-vars, namespace: acme}
spec:
  incoming: {webhook: {}}
  outgoing: {connection: erp-vars}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: undefined-var, namespace: acme}
spec:
  incoming: {webhook: {}}
  outgoing:
    connection: erp-vars
    http: {path: "/${{ vars.NOWHERE }}"}
"#;

#[tokio::test]
async fn variables_ship_to_the_runner_and_an_undefined_one_is_named() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.seed(VARIABLES);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");

    let config_map = api
        .get("v1", "ConfigMap", "acme", "acme-eu-west-1")
        .expect("catalog config map");
    let catalog = text(&config_map["data"]["catalog.yaml"]);
    // The Connection as written (the runner fills the placeholders in), the Variables
    // and the ConfigMap they read.
    assert!(
        catalog.contains("baseUrl: https://${{ vars.ERP_HOST }}${{ vars.ERP_PATH }}"),
        "{catalog}"
    );
    assert!(
        catalog.contains("Bearer ${{ vars.ERP_TOKEN }}"),
        "{catalog}"
    );
    assert!(!catalog.contains("Bearer secret"), "{catalog}");
    assert!(catalog.contains("kind: Variables"), "{catalog}");
    assert!(
        catalog.contains("kind: ConfigMap") && catalog.contains("ERP_PATH: /api/v3"),
        "{catalog}"
    );
    assert!(catalog.contains("name: via-vars"), "{catalog}");
    assert!(!catalog.contains("undefined-var"), "{catalog}");

    // The Secret behind the secret variable is mounted into the runner.
    let runner = api
        .get("apps/v1", "StatefulSet", "acme", "acme-eu-west-1")
        .expect("runner");
    let volumes = runner["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(
        volumes.contains("\"secretName\":\"erp-token\""),
        "{volumes}"
    );

    let route = api
        .get(API, "Route", "acme", "undefined-var")
        .expect("route");
    let ready = condition(&route, "Ready");
    assert_eq!(ready["status"], "False", "{ready}");
    let message = text(&ready["message"]);
    assert!(
        message.contains("field `spec.outgoing.http.path`")
            && message.contains("variable `NOWHERE` is not defined"),
        "{message}"
    );
    let variables = api.get(API, "Variables", "acme", "erp").expect("variables");
    assert_eq!(
        condition(&variables, "Ready")["status"],
        "True",
        "{variables}"
    );
    assert_eq!(
        condition(
            &api.get(API, "Route", "acme", "via-vars").expect("route"),
            "Degraded"
        )["status"],
        "False"
    );
}

#[tokio::test]
async fn a_missing_configmap_is_a_problem_of_the_variables() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    api.seed(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Variables
metadata: {name: settings, namespace: acme}
spec:
  valuesFrom: [{configMapRef: {name: not-there}}]
"#,
    );
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");
    let variables = api
        .get(API, "Variables", "acme", "settings")
        .expect("variables");
    let ready = condition(&variables, "Ready");
    assert_eq!(ready["status"], "False", "{ready}");
    assert!(
        text(&ready["message"]).contains("ConfigMap `not-there` not found"),
        "{ready}"
    );
}
