//! Route status from the data plane. In a cluster, the runner writes each route's queue
//! snapshot (counts, oldest pending age, last success, last error) to the Route's
//! status with server-side apply under its own field manager, so the operator's
//! conditions and the runner's numbers never overwrite each other.
//!
//! Throttled: a route is reported every [`REFRESH`], or after a change that matters
//! (a new failure, the queue filling or draining, a new error) but never more often than
//! every [`MIN_INTERVAL`] — never per item.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use switchyard_crds::v1alpha1::{
    CircuitPhase, CircuitStatus, Connection, ConnectionProbe, LastError, QueueSnapshot, Route,
};

use crate::circuit::{CircuitSnapshot, CircuitState};
use crate::connectors::registry::Connections;
use crate::engine::Engine;
use crate::queue::{QueueStore, RouteActivity, RouteKey, now_ms};
use crate::redact;

/// The field manager of everything the runner writes.
pub const FIELD_MANAGER: &str = "switchyard-runner";
/// A route is reported at least this often.
pub const REFRESH: Duration = Duration::from_secs(60);
/// ...and never more often than this.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

/// What was last reported for each route.
#[derive(Default)]
pub struct Reported {
    last: HashMap<RouteKey, (QueueSnapshot, Instant)>,
    /// The circuit of each Connection as last written.
    circuits: HashMap<(String, String), CircuitSnapshot>,
}

/// Reports every route of the running configuration, and every minute the probe of
/// each Connection, until the process ends.
pub async fn run(engine: Arc<Engine>, client: kube::Client) {
    let mut reported = Reported::default();
    let mut probed_at: Option<Instant> = None;
    loop {
        let runtime = engine.runtime();
        let routes: Vec<RouteKey> = runtime.routes.keys().cloned().collect();
        report_once(engine.store().as_ref(), &routes, &client, &mut reported).await;
        report_circuits(&client, &mut reported).await;
        if probed_at.is_none_or(|at| at.elapsed() >= REFRESH) {
            probe_connections(&runtime.connections, &client).await;
            probed_at = Some(Instant::now());
        }
        tokio::time::sleep(MIN_INTERVAL).await;
    }
}

/// Probes every Connection and writes the result to its status.
pub async fn probe_connections(connections: &Connections, client: &kube::Client) -> usize {
    let mut written = 0;
    for ((namespace, name), probe) in connections.probe_all().await {
        let api: Api<Connection> = Api::namespaced(client.clone(), &namespace);
        let status = ConnectionProbe {
            ok: probe.ok,
            message: probe.message,
            time: rfc3339(now_ms()).unwrap_or_default(),
        };
        let patch = json!({
            "apiVersion": switchyard_crds::API_VERSION,
            "kind": "Connection",
            "status": { "probe": status },
        });
        match api
            .patch_status(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
        {
            Ok(_) => written += 1,
            Err(error) => tracing::warn!(
                connection = %name,
                error = %redact::redact(&error.to_string()),
                "Cannot write the connection status; trying again"
            ),
        }
    }
    written
}

/// Writes the circuit of every Connection with a circuit breaker whose state changed
/// since it was last written (`status.circuit`); returns how many were written.
pub async fn report_circuits(client: &kube::Client, reported: &mut Reported) -> usize {
    let mut written = 0;
    for circuit in crate::circuit::snapshot() {
        let key = (circuit.namespace.clone(), circuit.connection.clone());
        let changed = reported.circuits.get(&key).is_none_or(|last| {
            (last.state, last.since_ms, last.until_ms)
                != (circuit.state, circuit.since_ms, circuit.until_ms)
        });
        if !changed {
            continue;
        }
        let api: Api<Connection> = Api::namespaced(client.clone(), &circuit.namespace);
        let patch = json!({
            "apiVersion": switchyard_crds::API_VERSION,
            "kind": "Connection",
            "status": { "circuit": circuit_status(&circuit, now_ms()) },
        });
        match api
            .patch_status(
                &circuit.connection,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
        {
            Ok(_) => {
                written += 1;
                reported.circuits.insert(key, circuit);
            }
            Err(error) => tracing::warn!(
                connection = %circuit.connection,
                error = %redact::redact(&error.to_string()),
                "Cannot write the connection's circuit status; trying again"
            ),
        }
    }
    written
}

/// The `status.circuit` of a Connection.
pub fn circuit_status(circuit: &CircuitSnapshot, now_ms: i64) -> CircuitStatus {
    CircuitStatus {
        state: match circuit.state {
            CircuitState::Closed => CircuitPhase::Closed,
            CircuitState::Open => CircuitPhase::Open,
            CircuitState::HalfOpen => CircuitPhase::HalfOpen,
        },
        since: circuit.since_ms.and_then(rfc3339),
        until: circuit.until_ms.and_then(rfc3339),
        reason: redact::redact(&circuit.reason).into_owned(),
        time: rfc3339(now_ms).unwrap_or_default(),
    }
}

/// One pass over `routes`; returns how many were written.
pub async fn report_once(
    store: &dyn QueueStore,
    routes: &[RouteKey],
    client: &kube::Client,
    reported: &mut Reported,
) -> usize {
    let mut written = 0;
    for route in routes {
        let activity = match store.activity(route).await {
            Ok(activity) => activity,
            Err(error) => {
                tracing::warn!(route = %route.route, error = %error, "Cannot read the queue for the status report");
                continue;
            }
        };
        let snapshot = snapshot(&activity, now_ms());
        let due = match reported.last.get(route) {
            None => true,
            Some((previous, at)) => {
                at.elapsed() >= REFRESH
                    || (at.elapsed() >= MIN_INTERVAL && matters(previous, &snapshot))
            }
        };
        if !due {
            continue;
        }
        let api: Api<Route> = Api::namespaced(client.clone(), &route.namespace);
        let patch = json!({
            "apiVersion": switchyard_crds::API_VERSION,
            "kind": "Route",
            "status": { "queue": snapshot },
        });
        match api
            .patch_status(
                &route.route,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
        {
            Ok(_) => {
                written += 1;
                reported
                    .last
                    .insert(route.clone(), (snapshot, Instant::now()));
            }
            Err(error) => tracing::warn!(
                route = %route.route,
                error = %redact::redact(&error.to_string()),
                "Cannot write the route status; trying again"
            ),
        }
    }
    written
}

/// A change worth reporting before the next refresh.
fn matters(previous: &QueueSnapshot, now: &QueueSnapshot) -> bool {
    now.failed > previous.failed
        || (previous.pending == 0) != (now.pending == 0)
        || previous.last_error.as_ref().map(|e| &e.task_id)
            != now.last_error.as_ref().map(|e| &e.task_id)
}

/// `ms` (since the Unix epoch) as RFC 3339, to the second.
pub fn rfc3339(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The status snapshot of a route's activity at `now_ms`.
pub fn snapshot(activity: &RouteActivity, now_ms: i64) -> QueueSnapshot {
    let counts = &activity.counts;
    QueueSnapshot {
        pending: counts.pending,
        processing: counts.processing,
        done: counts.done,
        failed: counts.failed,
        skipped: counts.skipped,
        waiting: counts.waiting,
        oldest_pending_age_seconds: activity
            .oldest_pending_ms
            .map(|ms| ((now_ms - ms) / 1_000).max(0)),
        last_success_time: activity.last_done_ms.and_then(rfc3339),
        last_error: activity
            .last_error
            .as_ref()
            .and_then(|(task_id, at, message)| {
                Some(LastError {
                    time: rfc3339(*at)?,
                    message: redact::redact(message).into_owned(),
                    task_id: task_id.clone(),
                })
            }),
        reported_time: rfc3339(now_ms),
    }
}

/// A client for the cluster the runner runs in, or `None` (with the reason logged) when
/// there is none.
pub async fn cluster_client() -> Option<kube::Client> {
    match kube::Client::try_default().await {
        Ok(client) => Some(client),
        Err(error) => {
            tracing::warn!(error = %error, "No Kubernetes API reachable; route status is not reported");
            None
        }
    }
}
