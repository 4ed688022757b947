//! The pure heart of a reconcile: from what was observed in a tenant's namespace to every
//! object that should exist, every object to delete, every status to write and every
//! Event to raise. No I/O, so tests read it like a table.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::chrono::{DateTime, Utc};
use kube::api::DynamicObject;
use kube::discovery::ApiResource;
use kube::{Resource, ResourceExt};
use serde_json::Value;
use switchyard_crds::manifest::AnyResource;
use switchyard_crds::v1alpha1::{
    CommonStatus, Connection, ConnectionProbe, Notification, QueueSnapshot, Route, Tenant,
    TenantStatus, Transformer, ValueTable, Variables,
};

use crate::build::{self, Queue, RegionInput};
use crate::catalog::{self, Validated};
use crate::child::{Child, ChildError, ChildKind, contained_in};
use crate::config::{ApiEndpoint, OperatorConfig};
use crate::names::{ANNOTATION_PAUSE, LABEL_REGION};
use crate::status::conditions::{self, Wanted};
use crate::status::health::{RegionHealth, region_health};
use crate::status::{self, Blocked};
use crate::validate;

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

/// Plans the reconcile of `tenant`.
pub fn plan(
    tenant: &Tenant,
    observed: &Observed,
    config: &OperatorConfig,
    now: DateTime<Utc>,
) -> Result<Plan, ChildError> {
    let mut plan = Plan::default();
    let previous = tenant.status.clone().unwrap_or_default();
    let generation = tenant.meta().generation;
    let live_tenant = serde_json::to_value(&tenant.status).unwrap_or_default();
    if tenant
        .annotations()
        .get(ANNOTATION_PAUSE)
        .is_some_and(|v| v == "true")
    {
        let mut kept: Vec<Wanted> = ["Ready", "Degraded"]
            .into_iter()
            .filter_map(|t| conditions::find(&previous.common.conditions, t))
            .map(|c| Wanted {
                type_: if c.type_ == "Ready" {
                    "Ready"
                } else {
                    "Degraded"
                },
                status: c.status == "True",
                reason: known_reason(&c.reason),
                message: c.message.clone(),
            })
            .collect();
        kept.push(conditions::progressing(
            false,
            "ReconciliationPaused",
            format!("Nothing is changed while the annotation {ANNOTATION_PAUSE}=true is set; remove it to resume."),
        ));
        let status = TenantStatus {
            common: common(kept, &previous.common.conditions, generation, now),
            ..previous.clone()
        };
        push_status(
            &mut plan,
            StatusKind::Tenant,
            tenant.name_any(),
            &status,
            &live_tenant,
            &previous.common.conditions,
        );
        return Ok(plan);
    }
    if let Some(blocked) = blocked(tenant, &observed.tenants) {
        let status = TenantStatus {
            common: common(
                status::tenant_blocked(&blocked),
                &previous.common.conditions,
                generation,
                now,
            ),
            ..TenantStatus::default()
        };
        push_status(
            &mut plan,
            StatusKind::Tenant,
            tenant.name_any(),
            &status,
            &live_tenant,
            &previous.common.conditions,
        );
        return Ok(plan);
    }

    let all_regions: Vec<String> = tenant.spec.regions.iter().map(|r| r.name.clone()).collect();
    let (resources, load_problems) = catalog::load(&observed.sources);
    let mut validated = catalog::validate(resources, load_problems, &all_regions);
    validated.config_maps = catalog::config_maps(&observed.sources);
    let image = tenant
        .spec
        .image
        .clone()
        .unwrap_or_else(|| config.runner_image.clone());

    let api_server = config
        .api_server
        .fixed()
        .unwrap_or_else(|| observed.api_server.clone());
    let mut children = Vec::new();
    let mut health = Vec::new();
    let mut region_statuses = Vec::new();
    for region in tenant
        .spec
        .regions
        .iter()
        .filter(|r| config.serves(&r.name))
    {
        let region_catalog = catalog::region_catalog(&validated, &region.name);
        let input = RegionInput {
            tenant,
            region,
            image: &image,
            catalog: &region_catalog,
            operator_namespace: &config.namespace,
            scraper: config.scraper.as_ref(),
            api_server: &api_server,
        };
        children.extend(build::region(&input)?);
        let workload_kind = match input.queue() {
            Queue::Sqlite(_) => ChildKind::StatefulSet,
            Queue::Postgres(_) => ChildKind::Deployment,
        };
        let workload = observed
            .children
            .iter()
            .find(|(kind, o)| {
                *kind == workload_kind && o.metadata.name.as_deref() == Some(&input.name())
            })
            .and_then(|(_, o)| serde_json::to_value(o).ok());
        let pods: Vec<Pod> = observed
            .pods
            .iter()
            .filter(|p| p.labels().get(LABEL_REGION) == Some(&region.name))
            .cloned()
            .collect();
        let h = region_health(&region.name, input.replicas(), workload.as_ref(), &pods);
        region_statuses.push(switchyard_crds::v1alpha1::RegionStatus {
            name: region.name.clone(),
            replicas: h.wanted,
            ready_replicas: h.ready,
            config_hash: region_catalog.hash.clone(),
            routes: i32::try_from(region_catalog.routes.len()).unwrap_or(i32::MAX),
        });
        health.push(h);
    }
    plan.stale = stale(&children, &observed.children, config);
    plan.children = Some(children);

    let invalid: Vec<_> = validated.problems.clone();
    let routes = validated.valid_routes.len();
    let status = TenantStatus {
        common: common(
            status::tenant_running(&health, routes, &invalid, config.region.as_deref()),
            &previous.common.conditions,
            generation,
            now,
        ),
        routes: Some(i32::try_from(routes).unwrap_or(i32::MAX)),
        regions: region_statuses,
    };
    push_status(
        &mut plan,
        StatusKind::Tenant,
        tenant.name_any(),
        &status,
        &live_tenant,
        &previous.common.conditions,
    );
    source_statuses(&mut plan, observed, &validated, &health, config, now);
    Ok(plan)
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
    let problems = validate::tenant(tenant);
    (!problems.is_empty())
        .then(|| Blocked::InvalidSpec(problems.iter().map(ToString::to_string).collect()))
}

/// The tenant's existing objects in served regions that the plan no longer wants.
fn stale(
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

fn source_statuses(
    plan: &mut Plan,
    observed: &Observed,
    validated: &Validated,
    health: &[RegionHealth],
    config: &OperatorConfig,
    now: DateTime<Utc>,
) {
    for object in &observed.sources {
        let Some(kind) = object
            .types
            .as_ref()
            .and_then(|t| StatusKind::from_kind(&t.kind))
        else {
            continue;
        };
        let id = switchyard_crds::problem::ResourceId {
            kind: object
                .types
                .as_ref()
                .map(|t| t.kind.clone())
                .unwrap_or_default(),
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
        };
        let problems: Vec<_> = validated.problems_of(&id).collect();
        let wanted = match kind {
            StatusKind::Route => {
                let loaded = validated.resources.iter().find(|r| r.id == id);
                let (suspended, pinned) = match loaded.map(|r| &r.resource) {
                    Some(AnyResource::Route(route)) => (
                        route
                            .spec
                            .processing
                            .as_ref()
                            .and_then(|p| p.suspend)
                            .unwrap_or(false),
                        route.spec.regions.clone(),
                    ),
                    _ => (false, Vec::new()),
                };
                let regions: Vec<&RegionHealth> = health
                    .iter()
                    .filter(|h| catalog::runs_in(&pinned, &h.region))
                    .collect();
                let queue: Option<QueueSnapshot> = object
                    .data
                    .pointer("/status/queue")
                    .cloned()
                    .and_then(|q| serde_json::from_value(q).ok());
                status::route(
                    &problems,
                    suspended,
                    &pinned,
                    &regions,
                    config.region.as_deref(),
                    queue.as_ref(),
                )
            }
            StatusKind::Connection => {
                let probe: Option<ConnectionProbe> = object
                    .data
                    .pointer("/status/probe")
                    .cloned()
                    .and_then(|p| serde_json::from_value(p).ok());
                let mut wanted = status::connection(&problems, probe.as_ref());
                let circuit = object
                    .data
                    .pointer("/status/circuit")
                    .cloned()
                    .and_then(|c| serde_json::from_value(c).ok());
                wanted.extend(status::circuit::condition(circuit.as_ref()));
                wanted
            }
            _ => status::definition(&problems),
        };
        let previous: CommonStatus = object
            .data
            .get("status")
            .cloned()
            .and_then(|s| serde_json::from_value(s).ok())
            .unwrap_or_default();
        let status = common(
            wanted,
            &previous.conditions,
            object.metadata.generation,
            now,
        );
        let live = object.data.get("status").cloned().unwrap_or_default();
        push_status(
            plan,
            kind,
            object.name_any(),
            &status,
            &live,
            &previous.conditions,
        );
    }
}

fn common(
    wanted: Vec<Wanted>,
    previous: &[Condition],
    generation: Option<i64>,
    now: DateTime<Utc>,
) -> CommonStatus {
    CommonStatus {
        observed_generation: generation,
        conditions: conditions::resolve(wanted, previous, generation, now),
    }
}

/// Queues `status` unless the live status already says it, and an Event when `Ready`
/// changed.
fn push_status<S: serde::Serialize>(
    plan: &mut Plan,
    kind: StatusKind,
    name: String,
    status: &S,
    live: &Value,
    previous: &[Condition],
) {
    let Ok(value) = serde_json::to_value(status) else {
        return;
    };
    if contained_in(&value, live) {
        return;
    }
    let new_ready = value
        .get("conditions")
        .and_then(|c| serde_json::from_value::<Vec<Condition>>(c.clone()).ok())
        .and_then(|c| conditions::find(&c, "Ready").cloned());
    let old_ready = conditions::find(previous, "Ready");
    if let Some(ready) = new_ready {
        let changed =
            old_ready.is_none_or(|old| old.status != ready.status || old.reason != ready.reason);
        if changed {
            plan.notes.push(Note {
                kind,
                name: name.clone(),
                warning: ready.status != "True",
                reason: ready.reason.clone(),
                message: ready.message.clone(),
            });
        }
    }
    plan.statuses.push(StatusPatch {
        kind,
        name,
        status: value,
    });
}

/// Reasons are `&'static str` in [`Wanted`]; a reason kept from the live status is one of ours,
/// looked up so no memory is leaked.
fn known_reason(reason: &str) -> &'static str {
    const KNOWN: [&str; 13] = [
        "Running",
        "RunnerUnavailable",
        "RunnerUnschedulable",
        "RunnerCrashLooping",
        "InvalidSpec",
        "DuplicateTenant",
        "NoRegionHere",
        "InvalidResources",
        "PartiallyReady",
        "AsExpected",
        "RollingOut",
        "RolledOut",
        "ReconciliationPaused",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == reason)
        .unwrap_or("Unknown")
}
