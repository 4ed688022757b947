//! Step 3 of a plan: the status of the Tenant (paused, blocked or running, with the
//! health of each built region) and of every resource of its namespace, each written
//! only when it changed, with an Event when `Ready` changed.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::chrono::{DateTime, Utc};
use kube::{Resource, ResourceExt};
use serde_json::Value;
use switchyard_crds::manifest::AnyResource;
use switchyard_crds::v1alpha1::{
    CommonStatus, ConnectionProbe, QueueSnapshot, RegionStatus, Tenant, TenantStatus,
};

use super::build::Built;
use super::validate::{Gate, ValidatedTenant};
use super::{Note, Observed, Plan, StatusKind, StatusPatch};
use crate::catalog::{self, Validated};
use crate::child::contained_in;
use crate::config::OperatorConfig;
use crate::names::{ANNOTATION_PAUSE, LABEL_REGION};
use crate::status;
use crate::status::conditions::{self, Wanted};
use crate::status::health::{RegionHealth, region_health};

/// The Tenant's status while its objects are left alone: paused (the last `Ready` and
/// `Degraded` kept) or blocked (why).
pub fn gated(plan: &mut Plan, tenant: &Tenant, gate: &Gate, now: DateTime<Utc>) {
    let previous = tenant.status.clone().unwrap_or_default();
    let generation = tenant.meta().generation;
    let status = match gate {
        Gate::Paused => {
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
            TenantStatus {
                common: common(kept, &previous.common.conditions, generation, now),
                ..previous.clone()
            }
        }
        Gate::Blocked(blocked) => TenantStatus {
            common: common(
                status::tenant_blocked(blocked),
                &previous.common.conditions,
                generation,
                now,
            ),
            ..TenantStatus::default()
        },
    };
    push_tenant(plan, tenant, &status);
}

/// The health of each built region, from its workload and pods as observed.
pub fn health(built: &Built, observed: &Observed) -> Vec<RegionHealth> {
    built
        .regions
        .iter()
        .map(|region| {
            let (kind, name) = &region.workload;
            let workload = observed
                .children
                .iter()
                .find(|(k, o)| k == kind && o.metadata.name.as_deref() == Some(name.as_str()))
                .and_then(|(_, o)| serde_json::to_value(o).ok());
            let pods: Vec<Pod> = observed
                .pods
                .iter()
                .filter(|p| p.labels().get(LABEL_REGION) == Some(&region.name))
                .cloned()
                .collect();
            region_health(&region.name, region.replicas, workload.as_ref(), &pods)
        })
        .collect()
}

/// The status of a reconciled Tenant: its regions' health and its resources' problems.
pub fn tenant(
    plan: &mut Plan,
    validated: &ValidatedTenant<'_>,
    built: &Built,
    health: &[RegionHealth],
    config: &OperatorConfig,
    now: DateTime<Utc>,
) {
    let tenant = validated.tenant;
    let previous = tenant.status.clone().unwrap_or_default();
    let routes = validated.catalog.valid_routes.len();
    let regions = built
        .regions
        .iter()
        .zip(health)
        .map(|(region, h)| RegionStatus {
            name: region.name.clone(),
            replicas: h.wanted,
            ready_replicas: h.ready,
            config_hash: region.config_hash.clone(),
            routes: i32::try_from(region.routes).unwrap_or(i32::MAX),
        })
        .collect();
    let status = TenantStatus {
        common: common(
            status::tenant_running(
                health,
                routes,
                &validated.catalog.problems,
                config.region.as_deref(),
            ),
            &previous.common.conditions,
            tenant.meta().generation,
            now,
        ),
        routes: Some(i32::try_from(routes).unwrap_or(i32::MAX)),
        regions,
    };
    push_tenant(plan, tenant, &status);
}

fn push_tenant(plan: &mut Plan, tenant: &Tenant, status: &TenantStatus) {
    let live = serde_json::to_value(&tenant.status).unwrap_or_default();
    let previous = tenant
        .status
        .as_ref()
        .map(|s| s.common.conditions.clone())
        .unwrap_or_default();
    push_status(
        plan,
        StatusKind::Tenant,
        tenant.name_any(),
        status,
        &live,
        &previous,
    );
}

/// The status of every Route, Connection, Transformer, ValueTable and Notification.
pub fn sources(
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
