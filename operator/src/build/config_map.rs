use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::RegionInput;
use crate::names::{CATALOG_KEY, OPS_KEY};

/// The region's manifests, mounted as the runner's `-f` directory. It holds only
/// Connections, Transformers, ValueTables and Routes: Secret values never enter it (the manifests
/// carry `secretKeyRef`s, resolved from the mounted Secrets).
pub fn build_config_map(input: &RegionInput<'_>) -> ConfigMap {
    ConfigMap {
        metadata: input.metadata(),
        data: Some(BTreeMap::from([
            (CATALOG_KEY.to_owned(), input.catalog.catalog_yaml.clone()),
            (OPS_KEY.to_owned(), input.catalog.ops_json.clone()),
        ])),
        ..ConfigMap::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn holds_the_regions_routes_and_no_secret_values() {
        let fixture = Fixture::load("two-regions");
        let data = build_config_map(&fixture.input(1)).data.unwrap_or_default();
        let catalog = &data[CATALOG_KEY];
        assert!(catalog.contains("name: orders"), "{catalog}");
        // `eu-invoices` is pinned to eu-west-1 and must not reach us-east-1.
        assert!(!catalog.contains("eu-invoices"), "{catalog}");
        assert!(catalog.contains("secretKeyRef"));
        assert!(!catalog.contains("s3cr3t"));
        // The Transformer's value map names a ValueTable: it ships with it.
        assert!(catalog.contains("valueTable: countries"), "{catalog}");
        assert!(
            catalog.contains("kind: ValueTable") && catalog.contains("Netherlands: NL"),
            "{catalog}"
        );
    }
}
