//! What the API server would do with a document, from the generated CRDs alone: the
//! structural schema through a JSON Schema validator (with strict field validation,
//! `kubectl apply`'s default, unknown fields are refused), then every CEL rule
//! (`x-kubernetes-validations`) through a CEL interpreter.

use std::path::Path;

use serde_json::{Map, Value, json};

/// The CRDs as checked in, by kind.
pub struct Crds(Vec<(String, Value)>);

impl Crds {
    pub fn load() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated");
        let mut crds = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
            let crd: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
            crds.push((kind.to_owned(), crd));
        }
        Self(crds)
    }

    pub fn all(&self) -> impl Iterator<Item = &(String, Value)> {
        self.0.iter()
    }

    /// The `v1alpha1` schema of `kind`.
    fn schema(&self, kind: &str) -> &Value {
        let (_, crd) = self
            .0
            .iter()
            .find(|(k, _)| k == kind)
            .unwrap_or_else(|| panic!("no CRD for {kind}"));
        crd["spec"]["versions"]
            .as_array()
            .and_then(|versions| versions.iter().find(|v| v["name"] == "v1alpha1"))
            .map(|v| &v["schema"]["openAPIV3Schema"])
            .unwrap_or_else(|| panic!("{kind} serves no v1alpha1"))
    }

    /// Every reason the API server would refuse `document`.
    pub fn refusals(&self, document: &Value) -> Vec<String> {
        let kind = document["kind"].as_str().unwrap_or_default();
        let schema = self.schema(kind);
        let mut out = Vec::new();
        let mut body = document.clone();
        if let Value::Object(map) = &mut body {
            // The API server's own fields, not in the schema.
            for key in ["apiVersion", "kind", "metadata"] {
                map.remove(key);
            }
        }
        let json_schema = to_json_schema(schema);
        let validator = jsonschema::validator_for(&json_schema)
            .unwrap_or_else(|e| panic!("{kind}: the schema does not compile: {e}"));
        out.extend(
            validator
                .iter_errors(&body)
                .map(|e| format!("schema: {}: {e}", e.instance_path())),
        );
        cel(schema, document, "", &mut out);
        out
    }
}

/// The OpenAPI v3 subset of a structural schema as JSON Schema: `nullable` becomes a
/// `null` type, objects with properties refuse others, Kubernetes extensions apply.
fn to_json_schema(node: &Value) -> Value {
    let Value::Object(node) = node else {
        return node.clone();
    };
    let mut out = Map::new();
    let preserve = node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let nullable = node.get("nullable") == Some(&Value::Bool(true));
    for (key, value) in node {
        match key.as_str() {
            "properties" => {
                let properties = value
                    .as_object()
                    .map(|p| {
                        p.iter()
                            .map(|(k, v)| (k.clone(), to_json_schema(v)))
                            .collect::<Map<_, _>>()
                    })
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(properties));
            }
            "items" | "additionalProperties" if value.is_object() => {
                out.insert(key.clone(), to_json_schema(value));
            }
            "oneOf" | "anyOf" | "allOf" => {
                let branches = value
                    .as_array()
                    .map(|b| b.iter().map(to_json_schema).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(branches));
            }
            "type" if nullable => {
                out.insert(key.clone(), json!([value, "null"]));
            }
            "nullable" | "x-kubernetes-validations" | "x-kubernetes-preserve-unknown-fields" => {}
            "x-kubernetes-int-or-string" => {
                out.insert("type".into(), json!(["integer", "string"]));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if node.contains_key("properties") && !preserve && !node.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

/// Evaluates every CEL rule of `schema` against the matching part of `value`.
fn cel(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if value.is_null() {
        return;
    }
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let expression = rule["rule"].as_str().unwrap_or_default();
        let program = cel_interpreter::Program::compile(expression)
            .unwrap_or_else(|e| panic!("{path}: the rule `{expression}` does not parse: {e}"));
        let mut context = cel_interpreter::Context::default();
        context
            .add_variable("self", value)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        match program.execute(&context) {
            Ok(cel_interpreter::Value::Bool(true)) => {}
            Ok(other) => out.push(format!(
                "cel: {path}: {} ({other:?})",
                rule["message"].as_str().unwrap_or(expression)
            )),
            Err(error) => out.push(format!("cel: {path}: `{expression}` failed: {error}")),
        }
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = format!("{path}.{key}");
                if let Some(child_schema) = schema["properties"].get(key) {
                    cel(child_schema, child, &child_path, out);
                } else if schema["additionalProperties"].is_object() {
                    cel(&schema["additionalProperties"], child, &child_path, out);
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (index, item) in items.iter().enumerate() {
                cel(&schema["items"], item, &format!("{path}[{index}]"), out);
            }
        }
        _ => {}
    }
}

/// Paths of the schema nodes inside lists that carry CEL rules (there should be none:
/// the API server multiplies their cost by the size a list may reach).
pub fn rules_inside_lists(node: &Value, path: &str, in_list: bool, out: &mut Vec<String>) {
    let Value::Object(map) = node else {
        return;
    };
    if in_list && map.contains_key("x-kubernetes-validations") {
        out.push(path.to_owned());
    }
    if let Some(Value::Object(properties)) = map.get("properties") {
        for (key, child) in properties {
            rules_inside_lists(child, &format!("{path}.{key}"), in_list, out);
        }
    }
    if let Some(items) = map.get("items") {
        rules_inside_lists(items, &format!("{path}[]"), true, out);
    }
    if let Some(additional) = map.get("additionalProperties") {
        rules_inside_lists(additional, &format!("{path}.*"), in_list, out);
    }
}
