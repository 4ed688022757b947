use k8s_openapi::api::core::v1::ResourceRequirements;
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
    /// CPU and memory of each runner container. Absent: no requests or limits (the
    /// namespace's LimitRange applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// How long finished tasks are kept. Absent: the runner's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Access to the runner's REST API.
    pub api: ApiAccess,
    /// Who may reach the runners and what they may reach. Absent: ingress from pods of the
    /// tenant's namespace and from the operator only; egress unrestricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<TenantNetwork>,
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

/// Access to the runner's REST API (tasks, retries) and webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiAccess {
    /// Secret key holding the bearer token the runner's API requires. The tenant chart
    /// creates one unless given `api.existingSecret`.
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
