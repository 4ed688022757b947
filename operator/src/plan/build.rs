//! Step 2 of a plan: every object the tenant's served regions need, built from the
//! [`ValidatedTenant`] alone, and the existing ones no longer wanted.

use kube::ResourceExt;
use kube::api::DynamicObject;

use super::validate::ValidatedTenant;
use crate::build::{self, Queue, RegionInput};
use crate::catalog;
use crate::child::{Child, ChildError, ChildKind};
use crate::config::OperatorConfig;
use crate::names::LABEL_REGION;

/// What the build step made.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// Every desired object, region after region.
    pub children: Vec<Child>,
    pub regions: Vec<BuiltRegion>,
}

/// One served region as built: what its status and health are judged against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltRegion {
    pub name: String,
    /// The runner workload (a StatefulSet for SQLite, a Deployment for PostgreSQL).
    pub workload: (ChildKind, String),
    pub replicas: i32,
    /// Hash of the region's runner configuration.
    pub config_hash: String,
    /// Routes that run in the region.
    pub routes: usize,
}

/// Builds every object of every served region.
pub fn build(tenant: &ValidatedTenant<'_>, config: &OperatorConfig) -> Result<Built, ChildError> {
    let mut built = Built {
        children: Vec::new(),
        regions: Vec::new(),
    };
    for region in &tenant.regions {
        let region_catalog = catalog::region_catalog(&tenant.catalog, &region.name);
        let input = RegionInput {
            tenant: tenant.tenant,
            region,
            image: &tenant.image,
            catalog: &region_catalog,
            operator_namespace: &config.namespace,
            scraper: config.scraper.as_ref(),
            api_server: &tenant.api_server,
        };
        built.children.extend(build::region(&input)?);
        let workload_kind = match input.queue() {
            Queue::Sqlite(_) => ChildKind::StatefulSet,
            Queue::Postgres(_) => ChildKind::Deployment,
        };
        built.regions.push(BuiltRegion {
            name: region.name.clone(),
            workload: (workload_kind, input.name()),
            replicas: input.replicas(),
            config_hash: region_catalog.hash.clone(),
            routes: region_catalog.routes.len(),
        });
    }
    Ok(built)
}

/// The tenant's existing objects in served regions that the plan no longer wants.
pub fn stale(
    desired: &[Child],
    existing: &[(ChildKind, DynamicObject)],
    config: &OperatorConfig,
) -> Vec<(ChildKind, String)> {
    existing
        .iter()
        .filter(|(_, object)| {
            object
                .labels()
                .get(LABEL_REGION)
                .is_some_and(|region| config.serves(region))
        })
        .map(|(kind, object)| (*kind, object.name_any()))
        .filter(|(kind, name)| !desired.iter().any(|c| c.kind == *kind && c.name == *name))
        .collect()
}
