//! YAML fixtures for the builders' tests: a Tenant and its namespace's resources, with
//! the region catalogs computed the way the reconciler computes them.

use serde::Deserialize;
use switchyard_crds::manifest::load_str;
use switchyard_crds::v1alpha1::Tenant;

use super::RegionInput;
use crate::catalog::{self, RegionCatalog};

pub struct Fixture {
    pub tenant: Tenant,
    /// One per Tenant region, in `spec.regions` order.
    pub catalogs: Vec<RegionCatalog>,
}

impl Fixture {
    pub fn load(name: &str) -> Self {
        let text = match name {
            "two-regions" => include_str!("fixtures/two-regions.yaml"),
            other => panic!("no fixture {other}"),
        };
        let tenant = serde_yaml::Deserializer::from_str(text)
            .filter_map(|doc| serde_yaml::Value::deserialize(doc).ok())
            .find(|doc| doc.get("kind").and_then(|k| k.as_str()) == Some("Tenant"))
            .map(|doc| serde_yaml::from_value::<Tenant>(doc).expect("the fixture's Tenant parses"))
            .expect("the fixture has a Tenant");
        let (resources, problems) = load_str(text, None);
        let regions: Vec<String> = tenant.spec.regions.iter().map(|r| r.name.clone()).collect();
        let validated = catalog::validate(resources, problems, &regions);
        let catalogs = regions
            .iter()
            .map(|region| catalog::region_catalog(&validated, region))
            .collect();
        Self { tenant, catalogs }
    }

    /// The builders' input for region `index` of the Tenant.
    pub fn input(&self, index: usize) -> RegionInput<'_> {
        RegionInput {
            tenant: &self.tenant,
            region: &self.tenant.spec.regions[index],
            image: "ghcr.io/switchyard/runner:test",
            catalog: &self.catalogs[index],
            operator_namespace: "switchyard-system",
            scraper: None,
            api_server: &[],
        }
    }
}
