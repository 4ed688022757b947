//! The walk finds every secret reference the CRD types can hold: the JSON schema of each
//! spec type is searched for `SecretValue` (behind `$ref`s, options, arrays, maps and
//! untagged enums), an instance with a reference at each such place is written, and the
//! walk must report it there; the kind must also be one the catalog collects for the
//! operator's Secret mounts. A `SecretValue` field added anywhere is covered or fails
//! here.

use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use super::*;
use crate::v1alpha1::{
    ConnectionSpec, NotificationSpec, RouteSpec, TenantSpec, TransformerSpec, ValueTableSpec,
};

/// Every CRD's spec type, by kind. A new CRD must be added here (checked against the
/// generated CRD files below).
fn spec_schemas() -> Vec<(&'static str, Value)> {
    fn schema<T: JsonSchema>() -> Value {
        schemars::schema_for!(T).to_value()
    }
    vec![
        ("Connection", schema::<ConnectionSpec>()),
        ("Route", schema::<RouteSpec>()),
        ("Transformer", schema::<TransformerSpec>()),
        ("ValueTable", schema::<ValueTableSpec>()),
        ("Notification", schema::<NotificationSpec>()),
        ("Tenant", schema::<TenantSpec>()),
        ("Variables", schema::<crate::v1alpha1::VariablesSpec>()),
    ]
}

/// Places below `schema` where a `SecretValue` can be written: `(path suffix, an instance
/// holding a reference there)`.
fn places(
    schema: &Value,
    defs: &Map<String, Value>,
    stack: &mut Vec<String>,
) -> Vec<(String, Value)> {
    let reference = || json!({"secretKeyRef": {"name": "s", "key": "k"}});
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let name = target.rsplit('/').next().unwrap_or_default().to_owned();
        if name == "SecretValue" {
            return vec![(String::new(), reference())];
        }
        if stack.contains(&name) {
            return Vec::new();
        }
        let Some(def) = defs.get(&name) else {
            panic!("unresolved $ref {target}");
        };
        stack.push(name);
        let found = places(def, defs, stack);
        stack.pop();
        return found;
    }
    let mut found = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        if properties.contains_key("secretKeyRef") {
            return vec![(String::new(), reference())];
        }
        for (name, sub) in properties {
            for (suffix, instance) in places(sub, defs, stack) {
                found.push((format!(".{name}{suffix}"), json!({ name: instance })));
            }
        }
    }
    if let Some(sub) = schema.get("additionalProperties").filter(|s| s.is_object()) {
        for (suffix, instance) in places(sub, defs, stack) {
            found.push((format!(".x{suffix}"), json!({ "x": instance })));
        }
    }
    if let Some(sub) = schema.get("items") {
        for (suffix, instance) in places(sub, defs, stack) {
            found.push((format!("[0]{suffix}"), json!([instance])));
        }
    }
    for branches in ["anyOf", "oneOf", "allOf"] {
        for branch in schema
            .get(branches)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            found.extend(places(branch, defs, stack));
        }
    }
    found
}

#[test]
fn every_secret_value_field_of_every_crd_is_found_and_mounted() {
    let generated = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/generated"))
        .map(|dir| dir.count())
        .unwrap_or_default();
    let schemas = spec_schemas();
    assert_eq!(
        schemas.len(),
        generated,
        "a CRD was added: list its spec type in spec_schemas()"
    );
    let mut total = 0;
    for (kind, schema) in schemas {
        let defs = schema
            .get("$defs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let found = places(&schema, &defs, &mut Vec::new());
        if !found.is_empty() {
            assert!(
                crate::catalog::SECRET_KINDS.contains(&kind),
                "{kind} has secret references ({}) but the catalog does not collect them for the \
                 operator's Secret mounts: add it to catalog::SECRET_KINDS and collect_secret_refs",
                found[0].0
            );
        }
        for (suffix, instance) in found {
            total += 1;
            let field = format!("spec{suffix}");
            let refs = secret_refs_in(&instance, "spec");
            assert!(
                refs.iter().any(|r| r.field == field),
                "{kind}: the walk misses the secret at `{field}` (found {refs:?})"
            );
        }
    }
    // Connections alone hold more than a dozen; a schema layout the search no longer
    // understands would find none and pass vacuously.
    assert!(total >= 20, "only {total} secret places found");
}

#[test]
fn references_are_found_with_their_field_in_arrays_maps_and_nested_values() {
    let spec = json!({
        "http": {
            "headers": {"X-Api-Key": {"secretKeyRef": {"name": "erp", "key": "key"}}, "Accept": "text/csv"},
            "auth": {"basic": {"username": "u", "password": {"secretKeyRef": {"name": "erp", "key": "password"}}}}
        },
        "list": [{}, {"token": {"secretKeyRef": {"name": "t", "key": "token"}}}]
    });
    let fields: Vec<(String, String)> = secret_refs_in(&spec, "spec")
        .into_iter()
        .map(|r| (r.field, format!("{}/{}", r.selector.name, r.selector.key)))
        .collect();
    assert_eq!(
        fields,
        [
            (
                "spec.http.auth.basic.password".to_owned(),
                "erp/password".to_owned()
            ),
            (
                "spec.http.headers.X-Api-Key".to_owned(),
                "erp/key".to_owned()
            ),
            ("spec.list[1].token".to_owned(), "t/token".to_owned()),
        ]
    );
}

#[test]
fn secret_names_and_keys_kubernetes_refuses_are_named() {
    let reference = |name: &str, key: &str| SecretRef {
        field: "spec.db.password".into(),
        selector: SecretKeySelector {
            name: name.into(),
            key: key.into(),
        },
    };
    assert!(check(&reference("erp-creds.v2", "pass_word.txt")).is_empty());
    let fields: Vec<String> = check(&reference("ERP", "a/b"))
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(
        fields,
        [
            "spec.db.password.secretKeyRef.name",
            "spec.db.password.secretKeyRef.key"
        ]
    );
    assert_eq!(check(&reference("-x", "")).len(), 2);
}
