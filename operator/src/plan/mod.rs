//! The pure heart of a reconcile: from what was observed in a tenant's namespace to every
//! object that should exist, every object to delete, every status to write and every
//! Event to raise. No I/O, so tests read it like a table.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::chrono::{DateTime, Utc};
use kube::api::DynamicObject;
use kube::discovery::ApiResource;
use serde_json::Value;
use switchyard_crds::v1alpha1::{
    Connection, Notification, Route, Tenant, Transformer, ValueTable, Variables,
};

use crate::child::{Child, ChildError, ChildKind};
use crate::config::{ApiEndpoint, OperatorConfig};

mod build;
mod statuses;
#[cfg(test)]
mod tests;
mod validate;

/// Everything read from the tenant's namespace.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every Tenant of the namespace, this one included.
    pub tenants: Vec<Tenant>,
    /// The namespace's Routes, Connections, Transformers, ValueTables, Notifications and
    /// Variables, untyped (a resource that does not parse is a problem of that resource
    /// only), and the ConfigMaps that Variables name.
    pub sources: Vec<DynamicObject>,
    /// Objects the operator made for this tenant earlier.
    pub children: Vec<(ChildKind, DynamicObject)>,
    /// The tenant's runner pods.
    pub pods: Vec<Pod>,
    /// The API server's addresses, read when the Tenant restricts egress and the
    /// operator was given none.
    pub api_server: Vec<ApiEndpoint>,
}

/// The Switchyard kinds whose status the operator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusKind {
    Tenant,
    Route,
    Connection,
    Transformer,
    ValueTable,
    Notification,
    Variables,
}

impl StatusKind {
    pub fn api_resource(self) -> ApiResource {
        match self {
            StatusKind::Tenant => ApiResource::erase::<Tenant>(&()),
            StatusKind::Route => ApiResource::erase::<Route>(&()),
            StatusKind::Connection => ApiResource::erase::<Connection>(&()),
            StatusKind::Transformer => ApiResource::erase::<Transformer>(&()),
            StatusKind::ValueTable => ApiResource::erase::<ValueTable>(&()),
            StatusKind::Notification => ApiResource::erase::<Notification>(&()),
            StatusKind::Variables => ApiResource::erase::<Variables>(&()),
        }
    }

    fn from_kind(kind: &str) -> Option<Self> {
        [
            Self::Tenant,
            Self::Route,
            Self::Connection,
            Self::Transformer,
            Self::ValueTable,
            Self::Notification,
            Self::Variables,
        ]
        .into_iter()
        .find(|k| k.api_resource().kind == kind)
    }
}

/// A status to write (only when it differs from the live one).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPatch {
    pub kind: StatusKind,
    pub name: String,
    pub status: Value,
}

/// An Event to raise on a resource whose `Ready` condition changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: StatusKind,
    pub name: String,
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

/// What a reconcile does.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Objects to apply, in order. `None`: leave the tenant's objects alone (paused,
    /// invalid or duplicate Tenant).
    pub children: Option<Vec<Child>>,
    /// Objects to delete: made for this tenant, in a region this operator serves, and no
    /// longer wanted.
    pub stale: Vec<(ChildKind, String)>,
    pub statuses: Vec<StatusPatch>,
    pub notes: Vec<Note>,
}

/// Plans the reconcile of `tenant`: [`validate`](validate::validate) once into a
/// [`Validated`](validate::ValidatedTenant) value, the only input of
/// [`build`](build::build) (every desired object) and of the [`statuses`] step.
pub fn plan(
    tenant: &Tenant,
    observed: &Observed,
    config: &OperatorConfig,
    now: DateTime<Utc>,
) -> Result<Plan, ChildError> {
    let mut plan = Plan::default();
    let validated = match validate::validate(tenant, observed, config) {
        Ok(validated) => validated,
        Err(gate) => {
            statuses::gated(&mut plan, tenant, &gate, now);
            return Ok(plan);
        }
    };
    let built = build::build(&validated, config)?;
    plan.stale = build::stale(&built.children, &observed.children, config);
    let health = statuses::health(&built, observed);
    statuses::tenant(&mut plan, &validated, &built, &health, config, now);
    statuses::sources(
        &mut plan,
        observed,
        &validated.catalog,
        &health,
        config,
        now,
    );
    plan.children = Some(built.children);
    Ok(plan)
}
