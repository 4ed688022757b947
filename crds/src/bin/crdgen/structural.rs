//! Turns the schemas schemars derives into structural schemas the API server accepts,
//! without changing what the Rust types accept:
//!
//! - `additionalProperties: false` next to `properties` (from `deny_unknown_fields`) is
//!   dropped: the API server forbids the pair, and prunes (or, with `kubectl`'s strict
//!   field validation, rejects) unknown fields anyway.
//! - `default` is dropped everywhere: defaults live in the code, so the API server never
//!   adds fields behind GitOps tools' backs (no ArgoCD drift).
//! - An optional enum (`anyOf` of the enum and `null`) becomes a nullable enum; an
//!   optional object with a `oneOf` keeps the `oneOf`, nullable.
//! - The root's title is the kind (a CEL rule on the root makes schemars name it
//!   `…Validated`).
//! - A node without a `type` (an arbitrary JSON value such as a `set` step's `value`) or
//!   whose `anyOf` mixes types (a header that is a string or a `secretKeyRef`, also when
//!   optional) keeps anything: `x-kubernetes-preserve-unknown-fields: true`. The `crds`
//!   validation checks these when a manifest is loaded.

use serde_json::{Map, Value};

/// Rewrites `schema` (an `openAPIV3Schema`) in place.
pub fn rewrite(schema: &mut Value) {
    let Value::Object(node) = schema else {
        return;
    };
    node.remove("default");
    if node.contains_key("properties")
        && node.get("additionalProperties") == Some(&Value::Bool(false))
    {
        node.remove("additionalProperties");
    }
    hoist_optional(node);
    if mixes_types(node) {
        keep_anything(node);
        return;
    }
    let untyped = !node.contains_key("type")
        && !node.contains_key("x-kubernetes-int-or-string")
        && !node.contains_key("x-kubernetes-preserve-unknown-fields")
        && !node.contains_key("properties");
    if untyped {
        keep_anything(node);
        return;
    }
    if let Some(Value::Object(properties)) = node.get_mut("properties") {
        properties.values_mut().for_each(rewrite);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = node.get_mut(key) {
            rewrite(child);
        }
    }
}

/// An optional field of a documented enum (`Option<HttpMethod>`) comes as `anyOf: [{enum:
/// […], type: string}, {enum: [null], nullable: true}]`; it becomes the enum itself,
/// nullable, as kube writes an optional enum without variant docs.
fn hoist_optional(node: &mut Map<String, Value>) {
    let Some(Value::Array(branches)) = node.get("anyOf") else {
        return;
    };
    let is_null = |branch: &Value| branch.get("enum") == Some(&Value::Array(vec![Value::Null]));
    let [first, second] = branches.as_slice() else {
        return;
    };
    let typed = match (is_null(first), is_null(second)) {
        (false, true) => first,
        (true, false) => second,
        _ => return,
    };
    // An optional struct with its own `oneOf` (`Option<FileSystemConnection>`): kube
    // hoisted the properties beside the `anyOf`; the `oneOf` moves there too.
    if let Some(branch) = typed.as_object()
        && branch.keys().all(|k| k == "oneOf" || k == "anyOf")
        && !branch.is_empty()
    {
        let branch = branch.clone();
        node.remove("anyOf");
        node.extend(branch);
        node.insert("nullable".into(), Value::Bool(true));
        return;
    }
    let (Some(Value::Array(values)), Some(kind)) = (typed.get("enum"), typed.get("type")) else {
        return;
    };
    let mut values = values.clone();
    values.push(Value::Null);
    let kind = kind.clone();
    node.remove("anyOf");
    node.insert("enum".into(), Value::Array(values));
    node.insert("nullable".into(), Value::Bool(true));
    node.insert("type".into(), kind);
}

/// Whether `node` is an `anyOf`/`oneOf` with a typed branch, also one level down: an
/// optional untagged enum (`Option<PemValue>`) is `anyOf: [{anyOf: [string, object]},
/// null]`, with the object's properties hoisted beside it and `type: object`, which
/// would refuse the string.
fn mixes_types(node: &Map<String, Value>) -> bool {
    ["anyOf", "oneOf"].into_iter().any(|key| {
        node.get(key)
            .and_then(Value::as_array)
            .is_some_and(|branches| {
                branches.iter().any(|branch| {
                    branch.get("type").is_some() || branch.as_object().is_some_and(mixes_types)
                })
            })
    })
}

/// Replaces a node by one that accepts any value, keeping its description.
fn keep_anything(node: &mut Map<String, Value>) {
    let description = node.remove("description");
    node.clear();
    if let Some(description) = description {
        node.insert("description".into(), description);
    }
    node.insert(
        "x-kubernetes-preserve-unknown-fields".into(),
        Value::Bool(true),
    );
}
