//! Pure functions from a Tenant's region to every object its runner needs, one file per
//! object kind. Nothing here talks to the API server; [`region`] is the whole list.

mod config_map;
mod deployment;
#[cfg(test)]
mod fixtures;
mod network_policy;
mod pdb;
mod placement;
mod pod;
mod role;
mod role_binding;
mod service;
mod service_account;
mod stateful_set;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;
use switchyard_crds::v1alpha1::{QueueBackend, SqliteQueue, Tenant, TenantRegion};

pub use config_map::build_config_map;
pub use deployment::build_deployment;
pub use network_policy::build_network_policy;
pub use pdb::build_pdb;
pub use pod::{build_pod_template, default_resources};
pub use role::build_role;
pub use role_binding::build_role_binding;
pub use service::build_service;
pub use service_account::build_service_account;
pub use stateful_set::build_stateful_set;

use crate::catalog::RegionCatalog;
use crate::child::{Child, ChildError};
use crate::names;

/// Everything the builders need to know about one region of one tenant.
#[derive(Debug, Clone, Copy)]
pub struct RegionInput<'a> {
    pub tenant: &'a Tenant,
    pub region: &'a TenantRegion,
    /// The runner image (the Tenant's or the operator's default).
    pub image: &'a str,
    /// What the region's runner gets.
    pub catalog: &'a RegionCatalog,
    /// Namespace of the operator, allowed to reach the runners.
    pub operator_namespace: &'a str,
    /// The Prometheus allowed to scrape the runners, if any.
    pub scraper: Option<&'a crate::config::MetricsScraper>,
    /// The API server's addresses, allowed as a destination when egress is restricted.
    pub api_server: &'a [crate::config::ApiEndpoint],
}

/// Which queue a region uses, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Queue<'a> {
    Sqlite(std::borrow::Cow<'a, SqliteQueue>),
    Postgres(&'a switchyard_crds::v1alpha1::PostgresQueue),
}

impl<'a> RegionInput<'a> {
    /// `<tenant>-<region>`: the name of every object of the region.
    pub fn name(&self) -> String {
        names::region_object_name(&self.tenant.name_any(), &self.region.name)
    }

    pub fn namespace(&self) -> String {
        self.tenant.namespace().unwrap_or_default()
    }

    /// Runner replicas: the region's, default 1.
    pub fn replicas(&self) -> i32 {
        self.region.replicas.unwrap_or(1)
    }

    /// The region's queue, else the tenant's, else SQLite with defaults.
    pub fn queue(&self) -> Queue<'a> {
        let backend: Option<&'a QueueBackend> = self.region.queue.as_ref().or(self
            .tenant
            .spec
            .queue
            .as_ref());
        match backend {
            Some(QueueBackend {
                postgres: Some(postgres),
                ..
            }) => Queue::Postgres(postgres),
            Some(QueueBackend {
                sqlite: Some(sqlite),
                ..
            }) => Queue::Sqlite(std::borrow::Cow::Borrowed(sqlite)),
            _ => Queue::Sqlite(std::borrow::Cow::Owned(SqliteQueue::default())),
        }
    }

    /// Labels of every object of the region.
    pub fn labels(&self) -> std::collections::BTreeMap<String, String> {
        names::region_labels(&self.tenant.name_any(), &self.region.name)
    }

    /// Labels selecting the region's runner pods.
    pub fn selector(&self) -> std::collections::BTreeMap<String, String> {
        names::selector_labels(&self.tenant.name_any(), &self.region.name)
    }

    /// Name, namespace, labels and the owner reference to the Tenant.
    pub fn metadata(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name()),
            namespace: Some(self.namespace()),
            labels: Some(self.labels()),
            owner_references: Some(vec![self.owner_reference()]),
            ..ObjectMeta::default()
        }
    }

    /// The Tenant as controlling owner: deleting it deletes the object.
    pub fn owner_reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: switchyard_crds::API_VERSION.to_owned(),
            kind: "Tenant".to_owned(),
            name: self.tenant.name_any(),
            uid: self.tenant.uid().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

/// The Tenant's labels or annotations `theirs` under the operator's `own`, which win
/// (validation already refused reserved keys; this keeps selectors intact regardless).
pub fn merged(
    theirs: &std::collections::BTreeMap<String, String>,
    own: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    let mut all = theirs.clone();
    all.extend(own);
    all
}

/// Every object of one region, in apply order (the workload last, once what it mounts
/// exists).
pub fn region(input: &RegionInput<'_>) -> Result<Vec<Child>, ChildError> {
    let mut children = vec![
        Child::new(&build_service_account(input))?,
        Child::new(&build_role(input))?,
        Child::new(&build_role_binding(input))?,
        Child::new(&build_config_map(input))?,
        Child::new(&build_service(input))?,
        Child::new(&build_network_policy(input))?,
        Child::new(&build_pdb(input))?,
    ];
    children.push(match input.queue() {
        Queue::Sqlite(sqlite) => Child::new(&build_stateful_set(input, &sqlite))?,
        Queue::Postgres(_) => Child::new(&build_deployment(input))?,
    });
    Ok(children)
}
