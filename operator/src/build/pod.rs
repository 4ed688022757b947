use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, KeyToPath, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretKeySelector, SecretVolumeSource, SecurityContext,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use switchyard_crds::v1alpha1::SecretKeySelector as SecretRef;

use super::placement::{Scheduling, scheduling};
use super::{Queue, RegionInput, merged};
use crate::names::{
    ANNOTATION_CONFIG_HASH, ANNOTATION_RESTART, CATALOG_DIR, DATA_DIR, RUNNER_PORT,
    RUNNER_PORT_NAME, RUNNER_UID, SECRETS_DIR,
};

/// Seconds a runner gets to drain (finish in-flight deliveries) after SIGTERM.
const TERMINATION_GRACE_SECONDS: i64 = 60;

/// The runner pod of one region. Meets the Pod Security "restricted" profile: non-root,
/// read-only root filesystem, no privilege escalation, every capability dropped,
/// RuntimeDefault seccomp. Carries the configuration hash so a change rolls the pods, and
/// the Tenant's pod settings (`spec.pod`, `spec.placement`), under the operator's own
/// labels and annotations, which always win.
pub fn build_pod_template(input: &RegionInput<'_>) -> PodTemplateSpec {
    let settings = input.tenant.spec.pod.clone().unwrap_or_default();
    let mut own = BTreeMap::from([(
        ANNOTATION_CONFIG_HASH.to_owned(),
        input.catalog.hash.clone(),
    )]);
    if let Some(restart) = input.tenant.annotations().get(ANNOTATION_RESTART) {
        own.insert(ANNOTATION_RESTART.to_owned(), restart.clone());
    }
    let annotations = merged(&settings.annotations, own);
    let labels = merged(&settings.labels, input.labels());
    let Scheduling {
        affinity,
        node_selector,
        tolerations,
        topology_spread_constraints,
    } = scheduling(input);
    let (mut volumes, mut mounts) = (base_volumes(input), base_mounts(input));
    for (index, (secret, keys)) in input.catalog.secrets.iter().enumerate() {
        let volume = format!("secret-{index}");
        volumes.push(Volume {
            name: volume.clone(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                items: Some(
                    keys.iter()
                        .map(|key| KeyToPath {
                            key: key.clone(),
                            path: key.clone(),
                            ..KeyToPath::default()
                        })
                        .collect(),
                ),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: volume,
            mount_path: format!("{SECRETS_DIR}/{secret}"),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(input.name()),
            enable_service_links: Some(false),
            termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(RUNNER_UID),
                run_as_group: Some(RUNNER_UID),
                fs_group: Some(RUNNER_UID),
                seccomp_profile: Some(runtime_default()),
                ..PodSecurityContext::default()
            }),
            affinity,
            node_selector,
            tolerations,
            topology_spread_constraints,
            priority_class_name: settings.priority_class_name,
            image_pull_secrets: (!settings.image_pull_secrets.is_empty())
                .then_some(settings.image_pull_secrets),
            containers: vec![runner_container(input, mounts)],
            volumes: Some(volumes),
            ..PodSpec::default()
        }),
    }
}

fn runner_container(input: &RegionInput<'_>, mounts: Vec<VolumeMount>) -> Container {
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(RUNNER_PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(10),
        ..Probe::default()
    };
    Container {
        name: "runner".to_owned(),
        image: Some(input.image.to_owned()),
        args: Some(
            [
                "run",
                "-f",
                CATALOG_DIR,
                "--listen",
                &format!("0.0.0.0:{RUNNER_PORT}"),
                "--data-dir",
                DATA_DIR,
                "--secrets-dir",
                SECRETS_DIR,
            ]
            .map(str::to_owned)
            .to_vec(),
        ),
        env: Some(env(input)),
        ports: Some(vec![ContainerPort {
            name: Some(RUNNER_PORT_NAME.to_owned()),
            container_port: RUNNER_PORT,
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(probe("/readyz")),
        liveness_probe: Some(probe("/healthz")),
        resources: Some(
            input
                .tenant
                .spec
                .resources
                .clone()
                .unwrap_or_else(default_resources),
        ),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            seccomp_profile: Some(runtime_default()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

fn env(input: &RegionInput<'_>) -> Vec<EnvVar> {
    let mut env = vec![
        from_secret(
            "SWITCHYARD_API_TOKEN",
            &input.tenant.spec.api.token_secret_ref,
        ),
        plain("SWITCHYARD_REGION", &input.region.name),
        // The runner writes each Route's queue snapshot to its status.
        plain("SWITCHYARD_REPORT_STATUS", "true"),
    ];
    if let Queue::Postgres(postgres) = input.queue() {
        env.push(from_secret(
            "SWITCHYARD_QUEUE_URL",
            &postgres.url_secret_ref,
        ));
    }
    if let Some(limits) = &input.tenant.spec.back_pressure {
        if let Some(max) = limits.max_pending_per_route {
            env.push(plain("SWITCHYARD_MAX_PENDING", &max.to_string()));
        }
        if let Some(floor) = limits.min_free_disk_mebibytes {
            env.push(plain("SWITCHYARD_MIN_FREE_DISK_MIB", &floor.to_string()));
        }
    }
    if let Some(format) = input.tenant.spec.logging.as_ref().and_then(|l| l.format) {
        env.push(plain("SWITCHYARD_LOG_FORMAT", format.as_str()));
    }
    if let Some(tracing) = &input.tenant.spec.tracing {
        env.extend(tracing_env(input, tracing));
    }
    if let Some(retention) = &input.tenant.spec.retention {
        if let Some(hours) = retention.done_hours {
            env.push(plain("SWITCHYARD_RETENTION_DONE_HOURS", &hours.to_string()));
        }
        if let Some(hours) = retention.failed_hours {
            env.push(plain(
                "SWITCHYARD_RETENTION_FAILED_HOURS",
                &hours.to_string(),
            ));
        }
    }
    env
}

/// The standard OpenTelemetry variables for `spec.tracing` (docs/tracing.md); the
/// resource attributes say which tenant and region a span comes from.
fn tracing_env(
    input: &RegionInput<'_>,
    tracing: &switchyard_crds::v1alpha1::Tracing,
) -> Vec<EnvVar> {
    let protocol = tracing.protocol.unwrap_or_default();
    let mut env = vec![
        plain("OTEL_EXPORTER_OTLP_ENDPOINT", &tracing.endpoint),
        plain("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.as_str()),
        plain("OTEL_SERVICE_NAME", "switchyard-runner"),
        plain(
            "OTEL_RESOURCE_ATTRIBUTES",
            &format!(
                "service.namespace={},switchyard.tenant={},switchyard.region={}",
                input.namespace(),
                input.tenant.name_any(),
                input.region.name
            ),
        ),
    ];
    if let Some(ratio) = tracing.sample_ratio {
        env.push(plain("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"));
        env.push(plain("OTEL_TRACES_SAMPLER_ARG", &ratio.to_string()));
    }
    env
}

fn plain(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}

fn from_secret(name: &str, secret: &SecretRef) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.name.clone(),
                key: secret.key.clone(),
                ..SecretKeySelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn base_volumes(input: &RegionInput<'_>) -> Vec<Volume> {
    let mut volumes = vec![
        Volume {
            name: "catalog".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: input.name(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    // With SQLite the data volume is the StatefulSet's claim; otherwise scratch space.
    if matches!(input.queue(), Queue::Postgres(_)) {
        volumes.push(Volume {
            name: "data".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
    }
    volumes
}

fn base_mounts(_input: &RegionInput<'_>) -> Vec<VolumeMount> {
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    };
    vec![
        mount("catalog", CATALOG_DIR, true),
        mount("tmp", "/tmp", false),
        mount("data", DATA_DIR, false),
    ]
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..SeccompProfile::default()
    }
}

/// Resources of a runner whose Tenant names none: enough for a few thousand items per
/// second, a memory limit so a leak cannot take the node, no CPU limit (throttling would
/// only slow deliveries down).
pub fn default_resources() -> ResourceRequirements {
    let quantity = |q: &str| Quantity(q.to_owned());
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), quantity("100m")),
            ("memory".to_owned(), quantity("128Mi")),
        ])),
        limits: Some(BTreeMap::from([("memory".to_owned(), quantity("512Mi"))])),
        ..ResourceRequirements::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn meets_the_restricted_pod_security_profile() {
        let fixture = Fixture::load("two-regions");
        let spec = build_pod_template(&fixture.input(0))
            .spec
            .unwrap_or_default();
        let pod = spec.security_context.unwrap_or_default();
        assert_eq!(pod.run_as_non_root, Some(true));
        assert_eq!(
            pod.seccomp_profile.map(|s| s.type_).as_deref(),
            Some("RuntimeDefault")
        );
        for container in spec.containers {
            let sc = container.security_context.unwrap_or_default();
            assert_eq!(sc.allow_privilege_escalation, Some(false));
            assert_eq!(sc.read_only_root_filesystem, Some(true));
            assert_eq!(
                sc.capabilities.and_then(|c| c.drop),
                Some(vec!["ALL".to_owned()])
            );
        }
    }

    #[test]
    fn is_placed_in_its_region_and_mounts_only_referenced_secret_keys() {
        let fixture = Fixture::load("two-regions");
        let spec = build_pod_template(&fixture.input(0))
            .spec
            .unwrap_or_default();
        let yaml = serde_yaml::to_string(&spec).unwrap_or_default();
        assert!(yaml.contains("topology.kubernetes.io/region"), "{yaml}");
        assert!(yaml.contains("- eu-west-1"), "{yaml}");
        let secrets: Vec<_> = spec
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.secret)
            .map(|s| {
                (
                    s.secret_name.unwrap_or_default(),
                    s.items.unwrap_or_default().len(),
                )
            })
            .collect();
        assert_eq!(
            secrets,
            vec![
                ("erp-credentials".to_owned(), 1),
                ("shop-webhook".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn carries_the_tenants_pod_settings_under_the_operators_labels() {
        let fixture = Fixture::load("two-regions");
        let template = build_pod_template(&fixture.input(0));
        let meta = template.metadata.unwrap_or_default();
        let labels = meta.labels.unwrap_or_default();
        assert_eq!(labels.get("team").map(String::as_str), Some("integrations"));
        assert!(
            fixture
                .input(0)
                .selector()
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        );
        let annotations = meta.annotations.unwrap_or_default();
        assert!(annotations.contains_key("fluentbit.io/parser"));
        assert!(annotations.contains_key(ANNOTATION_CONFIG_HASH));
        let spec = template.spec.unwrap_or_default();
        assert_eq!(spec.priority_class_name.as_deref(), Some("integrations"));
        let pull: Vec<String> = spec
            .image_pull_secrets
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(pull, ["registry-credentials"]);
        assert_eq!(
            spec.node_selector.unwrap_or_default().get("node-pool"),
            Some(&"integrations".to_owned())
        );
        assert_eq!(spec.tolerations.unwrap_or_default().len(), 1);
    }

    #[test]
    fn a_tenant_without_resources_gets_requests_and_a_memory_limit() {
        let fixture = Fixture::load("two-regions");
        let spec = build_pod_template(&fixture.input(0))
            .spec
            .unwrap_or_default();
        let resources = spec.containers[0].resources.clone().unwrap_or_default();
        assert_eq!(resources, default_resources());
        let requests = resources.requests.unwrap_or_default();
        assert!(requests.contains_key("cpu") && requests.contains_key("memory"));
        let limits = resources.limits.unwrap_or_default();
        assert!(limits.contains_key("memory") && !limits.contains_key("cpu"));
    }

    #[test]
    fn the_config_hash_changes_with_the_catalog_only() {
        let fixture = Fixture::load("two-regions");
        let hash = |t: PodTemplateSpec| {
            t.metadata
                .unwrap_or_default()
                .annotations
                .unwrap_or_default()[ANNOTATION_CONFIG_HASH]
                .clone()
        };
        let before = hash(build_pod_template(&fixture.input(0)));
        let mut changed = fixture.catalogs[0].clone();
        changed.catalog_yaml.push_str("# changed\n");
        changed.hash = crate::catalog::hash(&changed.catalog_yaml);
        let after = hash(build_pod_template(&RegionInput {
            catalog: &changed,
            ..fixture.input(0)
        }));
        assert_ne!(before, after);
    }
}
