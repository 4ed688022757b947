//! The canonical entities: business documents in one standard JSON shape, so that a
//! system is mapped once to the standard instead of to every other system. Their JSON
//! Schemas (draft 2020-12) are `docs/entities/v1/<name>.json`, bundled in the runner and
//! identified as `https://switchyard.dev/entities/v1/<name>`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A canonical entity (version 1), validated by name: `validate: {entity: order}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Entity {
    /// A sales order: parties, addresses, lines, discounts, taxes and totals.
    Order,
    /// A product with its variants, prices and stock.
    Product,
    /// The stock of one SKU at one location.
    StockLevel,
    /// A customer: a person buying, possibly for a company.
    Customer,
    /// A company (organisation): a buyer, a seller, a carrier.
    Company,
    /// A postal address.
    Address,
    /// An invoice: what the buyer owes for an order or a shipment.
    Invoice,
    /// A credit note: money owed back to the buyer, referring to an invoice.
    CreditNote,
    /// A shipment (dispatch advice, advance ship notice): what left, in which packages.
    Shipment,
    /// A payment received for an order or an invoice.
    Payment,
}

impl Entity {
    /// Every entity, in documentation order.
    pub const ALL: [Entity; 10] = [
        Entity::Order,
        Entity::Product,
        Entity::StockLevel,
        Entity::Customer,
        Entity::Company,
        Entity::Address,
        Entity::Invoice,
        Entity::CreditNote,
        Entity::Shipment,
        Entity::Payment,
    ];

    /// The name in manifests and in the schema's URI: `order`, `stockLevel`…
    pub fn name(self) -> &'static str {
        match self {
            Entity::Order => "order",
            Entity::Product => "product",
            Entity::StockLevel => "stockLevel",
            Entity::Customer => "customer",
            Entity::Company => "company",
            Entity::Address => "address",
            Entity::Invoice => "invoice",
            Entity::CreditNote => "creditNote",
            Entity::Shipment => "shipment",
            Entity::Payment => "payment",
        }
    }

    /// The schema's `$id`.
    pub fn id(self) -> String {
        format!("{ENTITY_BASE}{}", self.name())
    }
}

/// Where the canonical entities' schemas are identified (`$id`, `$ref`).
pub const ENTITY_BASE: &str = "https://switchyard.dev/entities/v1/";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names() {
        for entity in Entity::ALL {
            let json = serde_json::to_value(entity).ok();
            assert_eq!(json.as_ref().and_then(|v| v.as_str()), Some(entity.name()));
        }
    }
}
