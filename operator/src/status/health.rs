//! How a region's runners are doing, read from their workload's status and pods. Pure.

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

/// The observed state of one region's runners.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionHealth {
    pub region: String,
    pub wanted: i32,
    pub ready: i32,
    /// The workload runs its current spec on every replica.
    pub rolled_out: bool,
    /// A runner pod restarting in a loop: `(pod, reason)`.
    pub crash_looping: Option<(String, String)>,
    /// A runner pod the scheduler cannot place: `(pod, the scheduler's message)`.
    pub unschedulable: Option<(String, String)>,
}

impl RegionHealth {
    /// At least one runner serves (or none is wanted).
    pub fn available(&self) -> bool {
        self.ready > 0 || self.wanted == 0
    }
}

/// Health of `region` from its workload object (`None`: not created yet) and its pods.
pub fn region_health(
    region: &str,
    wanted: i32,
    workload: Option<&Value>,
    pods: &[Pod],
) -> RegionHealth {
    let int = |value: Option<&Value>| value.and_then(Value::as_i64).unwrap_or(0) as i32;
    let (ready, rolled_out) = match workload {
        None => (0, false),
        Some(object) => {
            let status = object.get("status");
            let generation = int(object.pointer("/metadata/generation"));
            let observed = int(status.and_then(|s| s.get("observedGeneration")));
            let ready = int(status.and_then(|s| s.get("readyReplicas")));
            let updated = int(status.and_then(|s| s.get("updatedReplicas")));
            (
                ready,
                observed >= generation && updated >= wanted && ready >= wanted,
            )
        }
    };
    let crash_looping = pods.iter().find_map(|pod| {
        let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
        statuses.iter().find_map(|c| {
            let waiting = c.state.as_ref()?.waiting.as_ref()?;
            let reason = waiting.reason.as_deref()?;
            matches!(
                reason,
                "CrashLoopBackOff"
                    | "CreateContainerConfigError"
                    | "ImagePullBackOff"
                    | "ErrImagePull"
            )
            .then(|| {
                (
                    pod.metadata.name.clone().unwrap_or_default(),
                    reason.to_owned(),
                )
            })
        })
    });
    let unschedulable = pods.iter().find_map(|pod| {
        let conditions = pod.status.as_ref()?.conditions.as_ref()?;
        let scheduled = conditions.iter().find(|c| c.type_ == "PodScheduled")?;
        (scheduled.status == "False" && scheduled.reason.as_deref() == Some("Unschedulable")).then(
            || {
                (
                    pod.metadata.name.clone().unwrap_or_default(),
                    scheduled.message.clone().unwrap_or_default(),
                )
            },
        )
    });
    RegionHealth {
        region: region.to_owned(),
        wanted,
        ready,
        rolled_out,
        crash_looping,
        unschedulable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unschedulable_pod_is_named_with_the_schedulers_message() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "acme-eu-west-1-0"},
            "status": {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
            }]}
        }))
        .unwrap_or_default();
        let health = region_health("eu-west-1", 1, None, &[pod]);
        let (name, message) = health.unschedulable.unwrap_or_default();
        assert_eq!(name, "acme-eu-west-1-0");
        assert!(message.contains("node affinity"), "{message}");
        assert_eq!(health.crash_looping, None);
        assert_eq!(region_health("eu-west-1", 1, None, &[]).unschedulable, None);
    }
}
