use std::path::Path;

use super::*;
use crate::manifest::load_str;
use crate::v1alpha1::SecretValue;
use crate::vars::Definition;

const VARIABLES: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Variables
metadata: {name: erp}
spec:
  values: {ERP_HOST: erp.test, TIMEOUT: "7"}
  secretValues:
    ERP_TOKEN: {secretKeyRef: {name: erp, key: token}}
  valuesFrom:
    - configMapRef: {name: settings}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {ERP_PATH: /api/v2, app.properties: "x=1"}
"#;

const CONNECTION: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp}
spec:
  http:
    baseUrl: "https://${{ vars.ERP_HOST }}${{ vars.ERP_PATH }}"
    timeoutSeconds: "${{ vars.TIMEOUT }}"
    headers:
      Authorization: "Bearer ${{ vars.ERP_TOKEN }}"
      X-Literal: "$${{ vars.ERP_HOST }}"
"#;

struct Fixed;

impl SecretLookup for Fixed {
    fn lookup(
        &self,
        _namespace: &str,
        value: &SecretValue,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        match value.secret_key_ref.key.as_str() {
            "token" => Ok("t0ken".to_owned()),
            other => Err(format!("no key `{other}`").into()),
        }
    }
}

fn load(text: &str, context: &VarContext<'_>) -> (Vec<LoadedResource>, Vec<Problem>) {
    let (documents, mut problems) = super::super::read_documents(text, Some(Path::new("m.yaml")));
    let (resources, mut more, _) = resolve(documents, context);
    problems.append(&mut more);
    (resources, problems)
}

fn connection(resources: &[LoadedResource]) -> Value {
    resources
        .iter()
        .find_map(|r| match &r.resource {
            AnyResource::Connection(c) => serde_json::to_value(&c.spec).ok(),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn placeholders_take_values_configmaps_and_secrets_and_numbers_where_wanted() {
    let context = VarContext {
        secrets: &Fixed,
        ..VarContext::default()
    };
    let (resources, problems) = load(&format!("{VARIABLES}---{CONNECTION}"), &context);
    assert!(problems.is_empty(), "{problems:?}");
    let http = &connection(&resources)["http"];
    assert_eq!(http["baseUrl"], "https://erp.test/api/v2");
    assert_eq!(http["timeoutSeconds"], 7);
    assert_eq!(http["headers"]["Authorization"], "Bearer t0ken");
    assert_eq!(http["headers"]["X-Literal"], "${{ vars.ERP_HOST }}");
    // What the operator ships: the spec as written.
    let template = resources
        .iter()
        .find(|r| r.id.kind == "Connection")
        .and_then(|r| r.template.clone())
        .unwrap_or_default();
    assert_eq!(
        template["http"]["headers"]["Authorization"],
        "Bearer ${{ vars.ERP_TOKEN }}"
    );
}

#[test]
fn outside_variables_win_and_the_stand_in_hides_secrets() {
    let mut context = VarContext::default();
    context.external.insert(
        "ERP_HOST".into(),
        Variable {
            value: "127.0.0.1:9".into(),
            secret: false,
            defined_by: Definition::Environment("SWITCHYARD_VAR_ERP_HOST".into()),
        },
    );
    let (resources, problems) = load(&format!("{VARIABLES}---{CONNECTION}"), &context);
    assert!(problems.is_empty(), "{problems:?}");
    let http = &connection(&resources)["http"];
    assert_eq!(http["baseUrl"], "https://127.0.0.1:9/api/v2");
    assert_eq!(http["headers"]["Authorization"], "Bearer secret");
}

#[test]
fn an_undefined_variable_names_file_resource_and_field() {
    let (resources, problems) = load_str(CONNECTION, Some(Path::new("c.yaml")));
    assert!(resources.is_empty());
    let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(
        messages[0].starts_with(
            "c.yaml (document 1): Connection/default/erp: field `spec.http.baseUrl`: variable `ERP_HOST` is not defined"
        ),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("field `spec.http.headers.Authorization`")
                && m.contains("`ERP_TOKEN`")),
        "{messages:?}"
    );
}

#[test]
fn bad_definitions_are_problems_of_the_variables_resource() {
    let text = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Variables
metadata: {name: a}
spec:
  values: {"9lives": x, SHARED: one}
  secretValues:
    MISSING: {secretKeyRef: {name: erp, key: other}}
  valuesFrom: [{configMapRef: {name: absent}}]
---
apiVersion: switchyard.dev/v1alpha1
kind: Variables
metadata: {name: b}
spec:
  values: {SHARED: two}
---
apiVersion: switchyard.dev/v1alpha1
kind: Variables
metadata: {name: c}
spec:
  values: {SHARED: three}
"#;
    let context = VarContext {
        secrets: &Fixed,
        ..VarContext::default()
    };
    let (_, problems) = load(text, &context);
    let fields: Vec<(String, String)> = problems
        .iter()
        .map(|p| {
            let id = p
                .resource
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            (id, p.field.clone())
        })
        .collect();
    let expected = [
        (
            "Variables/default/a",
            "spec.valuesFrom[0].configMapRef.name",
        ),
        ("Variables/default/a", "spec.secretValues.MISSING"),
        ("Variables/default/a", "spec.values.9lives"),
        ("Variables/default/c", "spec.values.SHARED"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(fields, expected, "{problems:?}");
    assert!(
        problems[3]
            .message
            .contains("already defined by Variables/default/b"),
        "{problems:?}"
    );
}

#[test]
fn a_number_field_refuses_text_that_is_no_number() {
    let text = format!(
        "{VARIABLES}---{}",
        CONNECTION.replace("${{ vars.TIMEOUT }}", "${{ vars.ERP_HOST }}")
    );
    let (_, problems) = load_str(&text, None);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "spec.http.timeoutSeconds");
}
