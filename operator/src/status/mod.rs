//! What each resource's status says. Pure: from what was observed to the conditions.

pub mod circuit;
pub mod conditions;
pub mod health;

use switchyard_crds::problem::Problem;
use switchyard_crds::v1alpha1::{ConnectionProbe, QueueSnapshot};

use self::conditions::{Wanted, degraded, progressing, ready};
use self::health::RegionHealth;
use crate::names::NODE_REGION_LABEL;

/// At most this many problems are spelled out in one message; the rest are counted.
const MAX_LISTED: usize = 3;
/// A route whose oldest pending task waited this long, with no delivery for as long, is
/// stalled: its runner is up but nothing flows.
pub const STALLED_AFTER_SECONDS: i64 = 900;

/// Why a Tenant's children are not reconciled at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// Another Tenant already serves the namespace.
    Duplicate { other: String, namespace: String },
    /// The Tenant's spec has problems (already rendered, field first).
    InvalidSpec(Vec<String>),
}

/// Conditions of a Tenant whose children are reconciled.
pub fn tenant_running(
    health: &[RegionHealth],
    routes: usize,
    invalid: &[Problem],
    served: Option<&str>,
) -> Vec<Wanted> {
    if health.is_empty() {
        let here = served.unwrap_or("every region");
        return vec![
            ready(
                true,
                "NoRegionHere",
                format!(
                    "This operator serves {here}; the Tenant lists none of it, so no runner runs in this cluster."
                ),
            ),
            progressing(false, "NoRegionHere", ""),
            degraded(false, "NoRegionHere", ""),
        ];
    }
    let mut wanted = vec![runners_ready(health, || {
        let regions: Vec<&str> = health.iter().map(|h| h.region.as_str()).collect();
        format!(
            "{routes} route(s) running in region(s) {}.",
            regions.join(", ")
        )
    })];
    wanted.push(rollout(health));
    wanted.push(if !invalid.is_empty() {
        degraded(
            true,
            "InvalidResources",
            format!(
                "{} problem(s) keep resources from running (the others run): {}",
                invalid.len(),
                list(invalid.iter().map(describe))
            ),
        )
    } else if let Some(partial) = health.iter().find(|h| h.available() && h.ready < h.wanted) {
        degraded(
            true,
            "PartiallyReady",
            format!(
                "Region {}: {} of {} runners ready.",
                partial.region, partial.ready, partial.wanted
            ),
        )
    } else {
        degraded(false, "AsExpected", "")
    });
    wanted
}

/// Conditions of a Tenant that is not reconciled.
pub fn tenant_blocked(blocked: &Blocked) -> Vec<Wanted> {
    let (reason, message) = match blocked {
        Blocked::Duplicate { other, namespace } => (
            "DuplicateTenant",
            format!(
                "Tenant `{other}` already serves namespace `{namespace}` (one Tenant per namespace); delete this Tenant or move it to its own namespace."
            ),
        ),
        Blocked::InvalidSpec(problems) => (
            "InvalidSpec",
            format!(
                "Nothing was changed; fix: {}",
                list(problems.iter().cloned())
            ),
        ),
    };
    vec![
        ready(false, reason, message.clone()),
        progressing(false, reason, ""),
        degraded(true, reason, message),
    ]
}

/// Conditions of a Route.
pub fn route(
    problems: &[&Problem],
    suspended: bool,
    pinned: &[String],
    health: &[&RegionHealth],
    served: Option<&str>,
    queue: Option<&QueueSnapshot>,
) -> Vec<Wanted> {
    if !problems.is_empty() {
        let message = format!(
            "Not running; fix: {}",
            list(problems.iter().map(|p| field_message(p)))
        );
        return vec![
            ready(false, "InvalidSpec", message.clone()),
            progressing(false, "InvalidSpec", ""),
            degraded(true, "InvalidSpec", message),
        ];
    }
    if health.is_empty() {
        return vec![
            ready(
                true,
                "RunsElsewhere",
                format!(
                    "Pinned to region(s) {}; this operator serves {}.",
                    pinned.join(", "),
                    served.unwrap_or("other regions")
                ),
            ),
            progressing(false, "RunsElsewhere", ""),
            degraded(false, "RunsElsewhere", ""),
        ];
    }
    if suspended {
        return vec![
            ready(
                true,
                "Suspended",
                "Intake and delivery are suspended (spec.processing.suspend); queued tasks wait. Remove it to resume.",
            ),
            progressing(false, "Suspended", ""),
            degraded(false, "Suspended", ""),
        ];
    }
    let owned: Vec<RegionHealth> = health.iter().map(|h| (*h).clone()).collect();
    let regions: Vec<&str> = owned.iter().map(|h| h.region.as_str()).collect();
    let running = format!("Runs in region(s) {}.", regions.join(", "));
    let runners = runners_ready(&owned, || running.clone());
    if runners.status
        && let Some(stalled) = queue.and_then(stalled)
    {
        return vec![
            ready(false, "QueueStalled", stalled.clone()),
            rollout(&owned),
            degraded(true, "QueueStalled", stalled),
        ];
    }
    let mut wanted = vec![runners, rollout(&owned)];
    wanted.push(match owned.iter().find(|h| !h.available()) {
        Some(down) if owned.iter().any(RegionHealth::available) => degraded(
            true,
            "RegionUnavailable",
            format!(
                "No runner of region {} is ready; the route runs in the other regions.",
                down.region
            ),
        ),
        _ => degraded(false, "AsExpected", ""),
    });
    wanted
}

/// Why a route whose runners are up is stalled, if it is: tasks have waited longer than
/// [`STALLED_AFTER_SECONDS`] and nothing was delivered for as long.
fn stalled(queue: &QueueSnapshot) -> Option<String> {
    let waited = queue
        .oldest_pending_age_seconds
        .filter(|age| *age >= STALLED_AFTER_SECONDS)?;
    let reported = queue
        .reported_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())?;
    let delivered_recently = queue
        .last_success_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|last| (reported - last).num_seconds() < STALLED_AFTER_SECONDS);
    if delivered_recently {
        return None;
    }
    let error = queue
        .last_error
        .as_ref()
        .map(|e| {
            format!(
                " Last error ({}, task {}): {}",
                e.time, e.task_id, e.message
            )
        })
        .unwrap_or_default();
    Some(format!(
        "{} task(s) pending, the oldest for {} min, and nothing delivered in that time.{error} Check the receiving system, then inspect the tasks through the runner API.",
        queue.pending,
        waited / 60
    ))
}

/// Conditions of a Connection, Transformer or ValueTable.
pub fn definition(problems: &[&Problem]) -> Vec<Wanted> {
    if problems.is_empty() {
        return vec![
            ready(true, "Valid", "Valid; Routes that use it can run."),
            degraded(false, "Valid", ""),
        ];
    }
    let message = format!(
        "Routes that use it cannot run; fix: {}",
        list(problems.iter().map(|p| field_message(p)))
    );
    vec![
        ready(false, "InvalidSpec", message.clone()),
        degraded(true, "InvalidSpec", message),
    ]
}

/// Conditions of a Connection: its definition, then what its runners' last probe found.
pub fn connection(problems: &[&Problem], probe: Option<&ConnectionProbe>) -> Vec<Wanted> {
    match probe {
        Some(probe) if problems.is_empty() && !probe.ok => {
            let message = format!(
                "The system does not answer as expected ({}, checked {}); Routes that use it retry and their tasks wait. Check the address, the network policy and the credentials.",
                probe.message, probe.time
            );
            vec![
                ready(false, "ProbeFailed", message.clone()),
                degraded(true, "ProbeFailed", message),
            ]
        }
        Some(probe) if problems.is_empty() => vec![
            ready(
                true,
                "Reachable",
                format!("{} (checked {}).", probe.message, probe.time),
            ),
            degraded(false, "Reachable", ""),
        ],
        _ => definition(problems),
    }
}

/// `Ready` from the runners: crash loops first (with the command to see why), then
/// regions without a ready runner.
fn runners_ready(health: &[RegionHealth], running: impl FnOnce() -> String) -> Wanted {
    if let Some(h) = health.iter().find(|h| h.crash_looping.is_some()) {
        let (pod, reason) = h.crash_looping.clone().unwrap_or_default();
        return ready(
            false,
            "RunnerCrashLooping",
            format!(
                "Runner pod {pod} in region {} is failing ({reason}); see `kubectl logs {pod}` and `kubectl describe pod {pod}`.",
                h.region
            ),
        );
    }
    if health.iter().all(|h| !h.available())
        && let Some(h) = health.iter().find(|h| h.unschedulable.is_some())
    {
        let (pod, message) = h.unschedulable.clone().unwrap_or_default();
        return ready(
            false,
            "RunnerUnschedulable",
            format!(
                "Runner pod {pod} in region {} cannot be scheduled: {message} Runners need a node labelled {NODE_REGION_LABEL}={} (label one, or set spec.placement.region: off) that also matches spec.placement (nodeSelector, tolerations, affinity) and has room for spec.resources.",
                h.region, h.region
            ),
        );
    }
    if health.iter().all(|h| !h.available()) {
        let waiting: Vec<String> = health
            .iter()
            .map(|h| format!("{} ({}/{} ready)", h.region, h.ready, h.wanted))
            .collect();
        return ready(
            false,
            "RunnerUnavailable",
            format!(
                "No runner is ready yet in region(s) {}; if this lasts, check the pods' events.",
                waiting.join(", ")
            ),
        );
    }
    ready(true, "Running", running())
}

fn rollout(health: &[RegionHealth]) -> Wanted {
    match health.iter().find(|h| !h.rolled_out) {
        Some(h) => progressing(
            true,
            "RollingOut",
            format!(
                "Region {}: {} of {} runners ready on the current configuration.",
                h.region, h.ready, h.wanted
            ),
        ),
        None => progressing(
            false,
            "RolledOut",
            "Every region runs the current configuration.",
        ),
    }
}

/// `field `spec.x`: message`, the part of a problem that helps on a resource's status.
fn field_message(problem: &Problem) -> String {
    if problem.field.is_empty() {
        problem.message.clone()
    } else {
        format!("field `{}`: {}", problem.field, problem.message)
    }
}

fn describe(problem: &Problem) -> String {
    match &problem.resource {
        Some(id) => format!("{id}: {}", field_message(problem)),
        None => field_message(problem),
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let shown = items
        .iter()
        .take(MAX_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    match items.len().saturating_sub(MAX_LISTED) {
        0 => shown,
        more => format!("{shown}; and {more} more (see each resource's status)"),
    }
}

#[cfg(test)]
mod tests {
    use switchyard_crds::v1alpha1::LastError;

    use super::*;

    fn snapshot(oldest: i64, last_success: Option<&str>) -> QueueSnapshot {
        QueueSnapshot {
            pending: 40,
            oldest_pending_age_seconds: Some(oldest),
            last_success_time: last_success.map(str::to_owned),
            last_error: Some(LastError {
                time: "2026-11-27T10:00:00Z".into(),
                message: "POST https://erp/orders failed: cannot connect".into(),
                task_id: "t-1".into(),
            }),
            reported_time: Some("2026-11-27T10:30:00Z".into()),
            ..QueueSnapshot::default()
        }
    }

    #[test]
    fn a_failed_probe_makes_a_valid_connection_not_ready() {
        let probe = |ok| ConnectionProbe {
            ok,
            message: "GET https://erp: cannot connect".into(),
            time: "2026-11-27T10:00:00Z".into(),
        };
        let down = connection(&[], Some(&probe(false)));
        assert_eq!((down[0].status, down[0].reason), (false, "ProbeFailed"));
        assert!(
            down[0].message.contains("cannot connect"),
            "{}",
            down[0].message
        );
        let up = connection(&[], Some(&probe(true)));
        assert_eq!((up[0].status, up[0].reason), (true, "Reachable"));
        assert_eq!(connection(&[], None)[0].reason, "Valid");
    }

    #[test]
    fn a_runner_nobody_can_schedule_says_why_and_how_to_fix_it() {
        let health = RegionHealth {
            region: "eu-west-1".into(),
            wanted: 1,
            unschedulable: Some((
                "acme-eu-west-1-0".into(),
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
                    .into(),
            )),
            ..RegionHealth::default()
        };
        let ready = runners_ready(std::slice::from_ref(&health), String::new);
        assert_eq!((ready.status, ready.reason), (false, "RunnerUnschedulable"));
        assert!(ready.message.contains("node affinity"), "{}", ready.message);
        assert!(
            ready
                .message
                .contains("topology.kubernetes.io/region=eu-west-1")
                && ready.message.contains("spec.placement.region: off"),
            "{}",
            ready.message
        );
        // A second region that serves keeps the Tenant ready (it is partially ready).
        let serving = RegionHealth {
            region: "us-east-1".into(),
            wanted: 1,
            ready: 1,
            ..RegionHealth::default()
        };
        assert!(runners_ready(&[health, serving], String::new).status);
    }

    #[test]
    fn a_queue_that_waits_without_deliveries_is_stalled() {
        let message = stalled(&snapshot(1_800, Some("2026-11-27T09:00:00Z"))).unwrap_or_default();
        assert!(
            message.starts_with("40 task(s) pending, the oldest for 30 min"),
            "{message}"
        );
        assert!(
            message.contains("task t-1") && message.contains("cannot connect"),
            "{message}"
        );
        // Old tasks while deliveries go on (a backlog draining) are not a stall.
        assert_eq!(
            stalled(&snapshot(1_800, Some("2026-11-27T10:29:00Z"))),
            None
        );
        // Young tasks are not a stall either.
        assert_eq!(stalled(&snapshot(60, None)), None);
    }
}
