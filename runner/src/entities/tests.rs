use serde_json::{Value, json};
use switchyard_crds::v1alpha1::{Entity, OnInvalid, ValidateStep};

use super::*;
use crate::transform::validate::Validate;
use crate::transform::{Transform, TransformError};

/// A realistic sample of each entity (docs/entities/samples/), which its schema accepts.
fn sample(entity: Entity) -> Value {
    let path = format!(
        "{}/../docs/entities/samples/{}.json",
        env!("CARGO_MANIFEST_DIR"),
        entity.name()
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn validator(entity: Entity) -> Validate {
    let step = ValidateStep {
        schema: None,
        entity: Some(entity),
        on_invalid: OnInvalid::Fail,
    };
    Validate::build(&step).unwrap_or_else(|e| panic!("{}: {e}", entity.name()))
}

fn violations(validate: &Validate, item: Value) -> Vec<String> {
    let mut out = Vec::new();
    match validate.apply(item, &mut out) {
        Ok(()) => Vec::new(),
        Err(TransformError::Invalid { violations }) => violations,
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn every_entity_compiles_carries_its_id_and_accepts_its_sample() {
    for entity in Entity::ALL {
        let schema = schema(entity).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(schema["$id"], json!(entity.id()));
        assert_eq!(
            schema["$schema"],
            json!("https://json-schema.org/draft/2020-12/schema")
        );
        let found = violations(&validator(entity), sample(entity));
        assert!(found.is_empty(), "{}: {found:?}", entity.name());
    }
}

/// Every property of every schema says what it is (the docs are the schema).
#[test]
fn every_field_has_a_description() {
    fn walk(at: &str, schema: &Value, missing: &mut Vec<String>) {
        let Some(object) = schema.as_object() else {
            return;
        };
        if let Some(properties) = object.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let path = format!("{at}.{name}");
                let described = property.get("description").is_some()
                    // A `$ref` to a definition carries the definition's description.
                    || property.get("$ref").is_some();
                if !described {
                    missing.push(path.clone());
                }
                walk(&path, property, missing);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(inner) = object.get(key) {
                walk(&format!("{at}[]"), inner, missing);
            }
        }
        if let Some(defs) = object.get("$defs").and_then(Value::as_object) {
            for (name, def) in defs {
                if def.get("description").is_none() {
                    missing.push(format!("{at}#{name}"));
                }
                walk(&format!("{at}#{name}"), def, missing);
            }
        }
    }
    let mut missing = Vec::new();
    for entity in Entity::ALL {
        let schema = schema(entity).unwrap_or_else(|e| panic!("{e}"));
        assert!(schema.get("description").is_some(), "{}", entity.name());
        walk(entity.name(), schema, &mut missing);
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}

#[test]
fn an_order_without_lines_is_rejected_naming_the_field() {
    let validate = validator(Entity::Order);
    let mut order = sample(Entity::Order);
    order.as_object_mut().map(|o| o.remove("lines"));
    let found = violations(&validate, order.clone());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("\"lines\" is a required property"),
        "{found:?}"
    );

    order["lines"] = json!([]);
    let found = violations(&validate, order);
    assert!(found.iter().any(|v| v.starts_with("/lines:")), "{found:?}");
}

#[test]
fn references_between_entities_are_checked() {
    let validate = validator(Entity::Order);
    let mut order = sample(Entity::Order);
    // order → address: a country name instead of its code; order → customer → company.
    order["shippingAddress"]["country"] = json!("Netherlands");
    order["customer"]["company"] = json!({"vatId": "NL1"});
    order["lines"][1]["quantity"] = json!(0);
    order["lines"][0]["colour"] = json!("red");
    let found = violations(&validate, order);
    for expected in [
        "/shippingAddress/country:",
        "/customer/company:",
        "/lines/1/quantity:",
        "/lines/0:",
    ] {
        assert!(
            found.iter().any(|v| v.starts_with(expected)),
            "{expected} not in {found:?}"
        );
    }
}

#[test]
fn an_inline_schema_may_refer_to_an_entity_but_to_nothing_else() {
    let step = |schema: Value| ValidateStep {
        schema: Some(schema),
        entity: None,
        on_invalid: OnInvalid::Fail,
    };
    let validate = Validate::build(&step(json!({
        "type": "object",
        "properties": {"deliverTo": {"$ref": "https://switchyard.dev/entities/v1/address"}}
    })))
    .unwrap_or_else(|e| panic!("{e}"));
    let found = violations(&validate, json!({"deliverTo": {"city": "Hamburg"}}));
    assert!(found.iter().any(|v| v.contains("\"street\"")), "{found:?}");

    let error = Validate::build(&step(json!({"$ref": "https://example.com/order.json"})))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("https://example.com/order.json") && error.contains("not a bundled"),
        "{error}"
    );
    let error = Validate::build(&step(
        json!({"$ref": "https://switchyard.dev/entities/v1/basket"}),
    ))
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(error.contains("entities/v1/basket"), "{error}");
}
