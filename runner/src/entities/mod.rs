//! The canonical entities' JSON Schemas, bundled in the binary from
//! `docs/entities/v1/*.json` (the one copy, published with the docs). `$ref`s between
//! them (an order's addresses) resolve from this bundle; no schema is ever fetched.

use std::sync::LazyLock;

use jsonschema::{Retrieve, Uri};
use serde_json::Value;
use switchyard_crds::v1alpha1::{ENTITY_BASE, Entity};

/// The schema files, by entity.
const SOURCES: [(Entity, &str); 10] = [
    (
        Entity::Order,
        include_str!("../../../docs/entities/v1/order.json"),
    ),
    (
        Entity::Product,
        include_str!("../../../docs/entities/v1/product.json"),
    ),
    (
        Entity::StockLevel,
        include_str!("../../../docs/entities/v1/stockLevel.json"),
    ),
    (
        Entity::Customer,
        include_str!("../../../docs/entities/v1/customer.json"),
    ),
    (
        Entity::Company,
        include_str!("../../../docs/entities/v1/company.json"),
    ),
    (
        Entity::Address,
        include_str!("../../../docs/entities/v1/address.json"),
    ),
    (
        Entity::Invoice,
        include_str!("../../../docs/entities/v1/invoice.json"),
    ),
    (
        Entity::CreditNote,
        include_str!("../../../docs/entities/v1/creditNote.json"),
    ),
    (
        Entity::Shipment,
        include_str!("../../../docs/entities/v1/shipment.json"),
    ),
    (
        Entity::Payment,
        include_str!("../../../docs/entities/v1/payment.json"),
    ),
];

/// The parsed schemas (a unit test proves each file parses and compiles).
static SCHEMAS: LazyLock<Vec<(Entity, Result<Value, EntityError>)>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(entity, text)| {
            let parsed = serde_json::from_str(text).map_err(|e| EntityError::Unreadable {
                entity: entity.name(),
                message: e.to_string(),
            });
            (*entity, parsed)
        })
        .collect()
});

/// A bundled schema that cannot be used, or a reference outside the bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityError {
    #[error("the bundled schema of entity `{entity}` is not valid JSON: {message}")]
    Unreadable {
        entity: &'static str,
        message: String,
    },
    #[error(
        "`{uri}` is not a bundled schema: references may name the canonical entities ({ENTITY_BASE}<name>) only"
    )]
    NotBundled { uri: String },
}

impl EntityError {
    /// A static label for metrics and reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "entity_unreadable",
            Self::NotBundled { .. } => "entity_not_bundled",
        }
    }
}

/// The JSON Schema of `entity`.
pub fn schema(entity: Entity) -> Result<&'static Value, EntityError> {
    let found = SCHEMAS.iter().find(|(e, _)| *e == entity).map(|(_, s)| s);
    match found {
        Some(Ok(schema)) => Ok(schema),
        Some(Err(error)) => Err(error.clone()),
        None => Err(EntityError::NotBundled { uri: entity.id() }),
    }
}

/// The entity a schema URI names (`https://switchyard.dev/entities/v1/order`).
fn by_uri(uri: &str) -> Option<Entity> {
    let name = uri.strip_prefix(ENTITY_BASE)?;
    let name = name.strip_suffix(".json").unwrap_or(name);
    Entity::ALL.into_iter().find(|e| e.name() == name)
}

/// Resolves `$ref`s to the bundled schemas and refuses every other (no network).
pub struct Bundled;

impl Retrieve for Bundled {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = uri.as_str();
        let entity = by_uri(text).ok_or_else(|| EntityError::NotBundled {
            uri: text.to_owned(),
        })?;
        Ok(schema(entity)?.clone())
    }
}

#[cfg(test)]
mod tests;
