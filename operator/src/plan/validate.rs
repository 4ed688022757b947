//! Step 1 of a plan: decide whether the tenant is reconciled at all (not paused, the
//! namespace's first Tenant, a valid spec) and validate its resources once, into the
//! [`ValidatedTenant`] that is the only input of the build and status steps.

use kube::{Resource, ResourceExt};
use switchyard_crds::v1alpha1::{Tenant, TenantRegion};

use super::Observed;
use crate::catalog::{self, Validated};
use crate::config::{ApiEndpoint, OperatorConfig};
use crate::names::ANNOTATION_PAUSE;
use crate::status::Blocked;

/// A Tenant the operator reconciles, with everything the later steps need decided.
pub struct ValidatedTenant<'a> {
    pub tenant: &'a Tenant,
    /// The namespace's Routes, Connections… validated against the tenant's regions.
    pub catalog: Validated,
    /// The runner image: the Tenant's, or the operator's default.
    pub image: String,
    /// The API server's addresses for the runners' egress rules.
    pub api_server: Vec<ApiEndpoint>,
    /// The tenant's regions this operator serves, in spec order.
    pub regions: Vec<&'a TenantRegion>,
}

/// Why the tenant's objects are left alone.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// The annotation `switchyard.dev/paused=true` is set.
    Paused,
    /// Another Tenant serves the namespace, or the spec is invalid.
    Blocked(Blocked),
}

/// Validates `tenant` and its namespace's resources, or says why nothing is done.
pub fn validate<'a>(
    tenant: &'a Tenant,
    observed: &Observed,
    config: &OperatorConfig,
) -> Result<ValidatedTenant<'a>, Gate> {
    if tenant
        .annotations()
        .get(ANNOTATION_PAUSE)
        .is_some_and(|v| v == "true")
    {
        return Err(Gate::Paused);
    }
    if let Some(blocked) = blocked(tenant, &observed.tenants) {
        return Err(Gate::Blocked(blocked));
    }
    let all_regions: Vec<String> = tenant.spec.regions.iter().map(|r| r.name.clone()).collect();
    let (resources, load_problems) = catalog::load(&observed.sources);
    let mut validated = catalog::validate(resources, load_problems, &all_regions);
    // The ConfigMaps that Variables name (`valuesFrom`), shipped with the resources.
    validated.config_maps = catalog::config_maps(&observed.sources);
    Ok(ValidatedTenant {
        tenant,
        catalog: validated,
        image: tenant
            .spec
            .image
            .clone()
            .unwrap_or_else(|| config.runner_image.clone()),
        api_server: config
            .api_server
            .fixed()
            .unwrap_or_else(|| observed.api_server.clone()),
        regions: tenant
            .spec
            .regions
            .iter()
            .filter(|r| config.serves(&r.name))
            .collect(),
    })
}

/// Why the tenant's objects must not be touched, if they must not.
fn blocked(tenant: &Tenant, tenants: &[Tenant]) -> Option<Blocked> {
    // The oldest Tenant of a namespace serves it; ties go to the smaller name.
    let key = |t: &Tenant| {
        (
            t.meta().creation_timestamp.clone().map(|t| t.0),
            t.name_any(),
        )
    };
    if let Some(first) = tenants.iter().min_by_key(|t| key(t))
        && first.name_any() != tenant.name_any()
    {
        return Some(Blocked::Duplicate {
            other: first.name_any(),
            namespace: tenant.namespace().unwrap_or_default(),
        });
    }
    let problems = crate::validate::tenant(tenant);
    (!problems.is_empty())
        .then(|| Blocked::InvalidSpec(problems.iter().map(ToString::to_string).collect()))
}
