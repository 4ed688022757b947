use super::*;
use crate::manifest::load_str;

fn problems(yaml: &str) -> Vec<String> {
    let (resources, mut problems) = load_str(yaml, None);
    problems.extend(Catalog::build(resources).problems);
    problems.iter().map(ToString::to_string).collect()
}

const CONNECTION: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp}
spec: {http: {baseUrl: "http://erp.example"}}
"#;

#[test]
fn a_trigger_names_an_existing_route_and_runs_only_after_delivery() {
    let valid = format!(
        "{CONNECTION}---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: a}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: erp}}
  transformers:
    afterDelivery:
      - when: {{condition: '.response.status == 201', steps: [{{trigger: {{route: b}}}}]}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: b}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: erp}}
"
    );
    assert_eq!(problems(&valid), Vec::<String>::new());

    let wrong = format!(
        "{CONNECTION}---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: a}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: erp}}
  transformers:
    incoming:
      - trigger: {{route: a}}
    afterDelivery:
      - trigger: {{route: missing}}
      - trigger: {{route: a, item: '{{id: .item.id'}}
"
    );
    let found = problems(&wrong);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found
            .iter()
            .any(|p| p.contains("spec.transformers.incoming")
                && p.contains("runs only in `spec.transformers.afterDelivery`")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("spec.transformers.afterDelivery[1].trigger.item")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.contains("Route `missing`")),
        "{found:?}"
    );
}

#[test]
fn a_cycle_is_named_with_its_path_and_an_invalid_reference_as_invalid() {
    let yaml = "
apiVersion: switchyard.dev/v1alpha1
kind: Transformer
metadata: {name: a}
spec: {steps: [{transformer: b}]}
---
apiVersion: switchyard.dev/v1alpha1
kind: Transformer
metadata: {name: b}
spec: {steps: [{jq: '.'}, {transformer: a}]}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp}
spec: {http: {baseUrl: 'ftp://erp.example'}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: r}
spec:
  incoming: {webhook: {}}
  transformers: {incoming: [{transformer: a}]}
  outgoing: {connection: erp}
";
    let found = problems(yaml);
    let with = |needle: &str| found.iter().filter(|p| p.contains(needle)).count();
    // Each Transformer names the cycle from where it starts.
    assert_eq!(
        with("Transformer `a` calls itself: a → b → a"),
        2,
        "{found:?}"
    );
    assert_eq!(
        with("Transformer `b` calls itself: b → a → b"),
        1,
        "{found:?}"
    );
    let route: Vec<&String> = found
        .iter()
        .filter(|p| p.contains("Route/default/r"))
        .collect();
    assert_eq!(route.len(), 2, "{found:?}");
    assert!(
        route.iter().any(|p| p
            .contains("field `spec.outgoing.connection`: Connection `erp` is invalid: ")
            && p.contains("field `spec.http.baseUrl`: scheme `ftp` is not supported")),
        "{route:?}"
    );
    assert!(
        route.iter().any(|p| p.contains(
            "field `spec.transformers.incoming[0].transformer`: Transformer `a` is invalid: "
        ) && p.contains("calls itself: a → b → a")),
        "{route:?}"
    );
    assert!(
        !found.iter().any(|p| p.contains("does not exist")),
        "{found:?}"
    );
}

#[test]
fn expansion_is_bounded() {
    // t0 calls t1 twice, t1 calls t2 twice, …: 2^30 steps if nothing stopped it.
    let mut yaml = String::new();
    for level in 0..30 {
        yaml.push_str(&format!(
                "apiVersion: switchyard.dev/v1alpha1\nkind: Transformer\nmetadata: {{name: t{level}}}\nspec: {{steps: [{{transformer: t{next}}}, {{transformer: t{next}}}]}}\n---\n",
                next = level + 1
            ));
    }
    yaml.push_str("apiVersion: switchyard.dev/v1alpha1\nkind: Transformer\nmetadata: {name: t30}\nspec: {steps: [{jq: '.'}]}\n");
    let started = std::time::Instant::now();
    let found = problems(&yaml);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        found
            .iter()
            .any(|p| p.contains("expands to more than 10000 steps")),
        "{found:?}"
    );
}
