use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::api::networking::v1::{NetworkPolicyEgressRule, NetworkPolicyPeer};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CommonStatus, SecretKeySelector};

/// The runtime of one tenant: its runner workloads, one per region, and their queues.
/// At most one Tenant per namespace; it runs the Routes, Connections and Transformers of
/// that namespace and nothing else.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "Tenant",
    category = "switchyard",
    doc = "A Switchyard Tenant: the runtime of one tenant (its runner workloads, one per region, and their queues); it runs the Switchyard resources of its namespace.",
    namespaced,
    status = "TenantStatus",
    shortname = "swtenant",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Regions","type":"string","jsonPath":".spec.regions[*].name"}"#,
    printcolumn = r#"{"name":"Routes","type":"integer","jsonPath":".status.routes"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSpec {
    /// The regions the tenant's data lives in. Each gets its own runner workload, placed on
    /// nodes labelled `topology.kubernetes.io/region=<name>`, and its own queue.
    pub regions: Vec<TenantRegion>,
    /// Queue backend of every region that does not set its own. Absent: embedded SQLite on
    /// a 1Gi volume (one replica per region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueBackend>,
    /// Runner container image. Absent: the image the operator was started with
    /// (`--runner-image`, set by the operator chart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// CPU and memory of each runner container. Absent: requests of 100m CPU and 128Mi
    /// memory and a 512Mi memory limit (no CPU limit, so a busy runner is not throttled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Where the runner pods may be scheduled, beside their region: node selector,
    /// tolerations, affinity, spread across zones, or region placement turned off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Metadata and scheduling settings of the runner pods: annotations, labels, priority
    /// class, image pull secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<RunnerPod>,
    /// Metadata of the runners' ServiceAccount, e.g. the annotation that binds it to a
    /// cloud IAM role (`eks.amazonaws.com/role-arn`, `iam.gke.io/gcp-service-account`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<RunnerServiceAccount>,
    /// How long finished tasks are kept. Absent: the runner's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Back-pressure: limits past which the runners refuse new work (webhooks answer
    /// `429`/`503` with `Retry-After`, polls skip their tick) instead of letting the
    /// queue grow without bound. Absent: no pending-task limit and no free-disk floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_pressure: Option<BackPressure>,
    /// Access to the runner's REST API.
    pub api: ApiAccess,
    /// Who may reach the runners and what they may reach. Absent: ingress from pods of the
    /// tenant's namespace and from the operator only; egress unrestricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<TenantNetwork>,
    /// The runners' log lines: `text` or `json`. Absent: `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<super::Logging>,
    /// OTLP traces of the runners (docs/tracing.md). Absent: no traces (no cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<super::Tracing>,
}

/// One region of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantRegion {
    /// Region name, the value of the nodes' `topology.kubernetes.io/region` label, e.g.
    /// `eu-west-1`. A DNS label; it becomes part of object names (`<tenant>-<region>`).
    pub name: String,
    /// Runner replicas in this region. Absent: 1. More than one needs a PostgreSQL queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Queue backend of this region, overriding `spec.queue` (e.g. one PostgreSQL database
    /// per region so data stays in the region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueBackend>,
}

/// How a region's runner pods are tied to the region's nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RegionPlacement {
    /// Only on nodes labelled `topology.kubernetes.io/region=<region>`: the tenant's data
    /// never leaves its region. Pods stay Pending until such a node exists.
    #[default]
    Required,
    /// Preferably on the region's nodes, elsewhere when none has room.
    Preferred,
    /// Anywhere (a single-region cluster, kind or minikube without region labels).
    Off,
}

/// Scheduling of the runner pods, beside their region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    /// How pods are tied to the nodes of their region (`required`, `preferred`, `off`).
    /// Absent: `required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionPlacement>,
    /// Node labels every runner pod requires, e.g. `{node-pool: integrations}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Taints the runner pods tolerate, e.g. a dedicated node pool's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Node and pod (anti-)affinity of the runner pods. Node affinity terms are combined
    /// with the region placement: a pod needs both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// How the runners of a region spread over the cluster. Absent: across zones
    /// (`topology.kubernetes.io/zone`, `maxSkew: 1`, `ScheduleAnyway`), so one zone's
    /// outage leaves runners in the others. An empty list: no constraint. The label
    /// selector of each constraint defaults to the region's runner pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
}

/// Settings of the runner pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunnerPod {
    /// Annotations of every runner pod (e.g. for a service mesh or a log shipper). The
    /// operator's own (`switchyard.dev/config-hash`, `switchyard.dev/restarted-at`)
    /// cannot be set here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels of every runner pod. The operator's own (`app.kubernetes.io/*`,
    /// `switchyard.dev/*`) cannot be set here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// PriorityClass of the runner pods, so integrations are not evicted before batch
    /// work. Absent: the cluster's default priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Secrets (of type `kubernetes.io/dockerconfigjson`) used to pull a private runner
    /// image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
}

/// Metadata of the runners' ServiceAccount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunnerServiceAccount {
    /// Annotations of each region's ServiceAccount, e.g. `eks.amazonaws.com/role-arn`
    /// so the runners reach S3 with a cloud IAM role instead of keys.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels of each region's ServiceAccount (e.g. `azure.workload.identity/use`). The
    /// operator's own cannot be set here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Where the durable queue lives. Exactly one of `sqlite` and `postgres` is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueBackend {
    /// Embedded SQLite on a persistent volume: the runner becomes a StatefulSet with one
    /// replica per region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite: Option<SqliteQueue>,
    /// PostgreSQL: the runner becomes a Deployment that may scale out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresQueue>,
}

/// Embedded SQLite queue on a PersistentVolumeClaim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqliteQueue {
    /// Size of the volume. Absent: 1Gi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
    /// StorageClass of the volume. Absent: the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// PostgreSQL queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresQueue {
    /// Secret key holding the connection URL (`postgres://user:password@host/db`). It is
    /// passed to the runner as an environment variable from the Secret, never copied.
    pub url_secret_ref: SecretKeySelector,
}

/// Retention of finished tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retention {
    /// Hours a `done` or `skipped` task (with its item and logs) is kept. Absent: the
    /// runner's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_hours: Option<u32>,
    /// Hours a `failed` task is kept. Absent: kept until a human retries or discards it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_hours: Option<u32>,
}

/// Tenant-wide back-pressure limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackPressure {
    /// The most undelivered tasks (`pending` or `processing`) a Route may have when it
    /// does not set `spec.processing.maxPending` itself. Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_pending_per_route: Option<u64>,
    /// Free space, in MiB, that an SQLite queue's volume must keep: below it, webhooks
    /// answer `503` and polls skip their tick, so the queue never fills its disk. 0
    /// turns the floor off; it does not apply to a PostgreSQL queue. Absent: no floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_free_disk_mebibytes: Option<u64>,
}

/// Access to the runner's REST API (tasks, retries) and webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiAccess {
    /// Secret key holding the bearer token the runner's API requires. Nothing generates
    /// it (a render must be reproducible, so GitOps never rotates it): create the Secret,
    /// or sync it from a secret store; the tenant chart names `<release>-api` unless
    /// given `api.existingSecret`.
    pub token_secret_ref: SecretKeySelector,
}

/// Network access of the runners.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantNetwork {
    /// Extra sources allowed to reach the runners' HTTP port (webhooks, API, metrics), e.g.
    /// the ingress controller's namespace. Pods of the tenant's namespace and the operator
    /// are always allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_from: Vec<NetworkPolicyPeer>,
    /// Destinations the runners may reach. Absent: anywhere. When set, only these (and
    /// cluster DNS) are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<NetworkPolicyEgressRule>>,
}

/// Status of a Tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Number of valid Routes running for this tenant (in this cluster's regions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<i32>,
    /// Per region: the runner workload and its configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionStatus>,
}

/// Status of one region's runner workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionStatus {
    /// Region name.
    pub name: String,
    /// Runner replicas wanted.
    pub replicas: i32,
    /// Runner replicas ready.
    pub ready_replicas: i32,
    /// Hash of the configuration the workload's pod template carries.
    pub config_hash: String,
    /// Valid Routes running in this region.
    pub routes: i32,
}
