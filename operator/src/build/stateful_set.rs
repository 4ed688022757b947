use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use switchyard_crds::v1alpha1::SqliteQueue;

use super::{RegionInput, build_pod_template};

/// Volume size of an SQLite queue that names none: room for about a million small tasks.
pub const DEFAULT_SQLITE_SIZE: &str = "1Gi";

/// The runner of a region whose queue is embedded SQLite: a StatefulSet of one, with a
/// volume that outlives the pod, so a restart or rollout loses no task. The volume is
/// kept when the StatefulSet is deleted (a removed region's queued tasks can be
/// recovered); delete it by hand once drained.
pub fn build_stateful_set(input: &RegionInput<'_>, sqlite: &SqliteQueue) -> StatefulSet {
    let size = sqlite
        .size
        .clone()
        .unwrap_or_else(|| Quantity(DEFAULT_SQLITE_SIZE.to_owned()));
    StatefulSet {
        metadata: input.metadata(),
        spec: Some(StatefulSetSpec {
            replicas: Some(input.replicas()),
            service_name: Some(input.name()),
            selector: LabelSelector {
                match_labels: Some(input.selector()),
                ..LabelSelector::default()
            },
            template: build_pod_template(input),
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".to_owned()),
                    labels: Some(input.labels()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                    storage_class_name: sqlite.storage_class_name.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([("storage".to_owned(), size)])),
                        ..VolumeResourceRequirements::default()
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            }]),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_owned()),
                    when_scaled: Some("Retain".to_owned()),
                },
            ),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Queue;
    use super::super::fixtures::Fixture;
    use super::*;

    #[test]
    fn keeps_the_sqlite_queue_on_a_retained_volume() {
        let fixture = Fixture::load("two-regions");
        let input = fixture.input(0);
        let Queue::Sqlite(sqlite) = input.queue() else {
            panic!("eu-west-1 uses SQLite in the fixture");
        };
        let spec = build_stateful_set(&input, &sqlite).spec.unwrap_or_default();
        assert_eq!(spec.replicas, Some(1));
        let claim = &spec.volume_claim_templates.unwrap_or_default()[0];
        assert_eq!(claim.metadata.name.as_deref(), Some("data"));
        let requests = claim
            .spec
            .clone()
            .unwrap_or_default()
            .resources
            .unwrap_or_default()
            .requests;
        assert_eq!(
            requests.unwrap_or_default()["storage"],
            Quantity("5Gi".to_owned())
        );
        let policy = spec
            .persistent_volume_claim_retention_policy
            .unwrap_or_default();
        assert_eq!(policy.when_deleted.as_deref(), Some("Retain"));
    }
}
