//! Checks a document against a CRD's structural schema the way the API server does with
//! strict field validation (`kubectl apply`'s default): types, required fields, enums,
//! `oneOf`/`anyOf`, and unknown fields.

use serde_json::Value;

/// Every violation of `schema` in `value`, as `path: message`.
/// `apiVersion`, `kind` and `metadata` are the API server's own and not in the schema.
pub fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut value = value.clone();
    if let Value::Object(map) = &mut value {
        for key in ["apiVersion", "kind", "metadata"] {
            map.remove(key);
        }
    }
    let mut out = Vec::new();
    check(schema, &value, "", &mut out);
    out
}

fn check(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let here = if path.is_empty() { "<root>" } else { path };
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && schema.get("type").is_none()
    {
        return;
    }
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            out.push(format!("{here}: must not be null"));
        }
        return;
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            out.push(format!("{here}: must be an integer or a string"));
        }
        return;
    }
    let type_ok = match schema.get("type").and_then(Value::as_str) {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !type_ok {
        out.push(format!(
            "{here}: must be of type {}",
            schema.get("type").and_then(Value::as_str).unwrap_or("?")
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(format!(
            "{here}: {value} is not one of {}",
            Value::Array(allowed.clone())
        ));
    }
    match value {
        Value::Object(map) => check_object(schema, map, path, out),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}[{index}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    path: &str,
    out: &mut Vec<String>,
) {
    let here = if path.is_empty() { "<root>" } else { path };
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    for (key, child) in map {
        match (properties.and_then(|p| p.get(key)), additional) {
            (Some(child_schema), _) => check(child_schema, child, &join(key), out),
            (None, Some(Value::Object(_))) => {
                if let Some(child_schema) = additional {
                    check(child_schema, child, &join(key), out);
                }
            }
            (None, _) if preserve || properties.is_none() => {}
            (None, _) => out.push(format!("{}: unknown field", join(key))),
        }
    }
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !map.contains_key(required) {
            out.push(format!("{}: is required", join(required)));
        }
    }
    let satisfied = |branch: &Value| {
        branch
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .all(|key| map.contains_key(key))
    };
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = branches.iter().filter(|b| satisfied(b)).count();
        if matching != 1 {
            out.push(format!(
                "{here}: must set exactly one of the alternatives ({matching} set)"
            ));
        }
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array)
        && !branches.iter().any(satisfied)
    {
        out.push(format!("{here}: matches none of the alternatives"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reports_unknown_missing_and_mistyped_fields() {
        let schema = json!({"type": "object", "required": ["a"], "properties": {
            "a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "string"}}}});
        assert_eq!(
            violations(&schema, &json!({"a": 1, "b": ["x"]})),
            Vec::<String>::new()
        );
        assert_eq!(
            violations(&schema, &json!({"b": [1], "c": true})),
            [
                "b[0]: must be of type string",
                "c: unknown field",
                "a: is required"
            ]
        );
    }
}
