//! Internal events: each function here is the one place that bumps a metric and, where
//! a human should hear of it, writes the log line.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use super::{METRICS, RouteMetrics};
use crate::queue::{LeasedTask, Outcome, QueueError, RouteKey, StorageFault};

/// Items came in from `source` and `tasks` tasks were committed; `took`: the intake
/// from its start to the commit, for the route the items came in for.
pub fn intake_committed(
    route: &RouteMetrics,
    source: &str,
    items: usize,
    tasks: usize,
    took: Option<Duration>,
) {
    route.intake_committed(source, items, tasks);
    if let Some(took) = took {
        route.intake_took(source, took);
    }
}

/// How much of a failed task's error its `Task failed` log line quotes.
pub const FAILED_REASON_CHARS: usize = 500;

/// A delivery attempt of `task` ended with `outcome` after `took`. A task that ends
/// `failed` (out of attempts, or a permanent failure) also writes one `Task failed` line
/// (`event=task_failed`) with its route, id, attempts and reason (redacted, cut short),
/// so a log pipeline can alert on it without reading the queue.
pub fn task_attempted(route: &RouteMetrics, task: &LeasedTask, outcome: &Outcome, took: Duration) {
    route.attempted(outcome, took);
    if let Outcome::Failed { error } = outcome {
        let key = route.key();
        tracing::warn!(
            event = "task_failed",
            namespace = %key.namespace,
            route = %key.route,
            task = %task.id,
            attempts = task.attempts,
            reason = %crate::redact::excerpt(error, FAILED_REASON_CHARS),
            "Task failed"
        );
    }
}

/// A task's first attempt starts `waited` after its commit.
pub fn first_attempt(route: &RouteMetrics, waited: Duration) {
    route.first_attempt(waited);
}

/// A task was delivered `after` its commit.
pub fn task_delivered(route: &RouteMetrics, after: Duration) {
    route.delivered(after);
}

/// What refused an intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeKind {
    Webhook,
    /// An acknowledgement callback (`outgoing.await`).
    Callback,
    Poll,
    /// A call through a proxy route (`incoming.proxy`).
    Proxy,
}

impl IntakeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Callback => "callback",
            Self::Poll => "poll",
            Self::Proxy => "proxy",
        }
    }
}

/// Why an intake was refused (a metric label: fixed, never user data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The request did not authenticate.
    Auth,
    /// The body is not JSON items.
    Body,
    /// An incoming transformer refused an item.
    Transform,
    /// The route is suspended.
    Suspended,
    /// The queue could not commit.
    Queue,
    /// Back-pressure: the route or tenant holds too many pending tasks, or the disk is
    /// nearly full.
    Full,
    /// A poll could not read its input.
    Unreadable,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Body => "body",
            Self::Transform => "transform",
            Self::Suspended => "suspended",
            Self::Queue => "queue",
            Self::Full => "full",
            Self::Unreadable => "unreadable",
        }
    }
}

/// An intake was refused; nothing was queued.
pub fn intake_rejected(route: &RouteKey, kind: IntakeKind, reason: RejectReason) {
    METRICS
        .intake_rejections
        .with_label_values(&[
            &route.namespace,
            &route.route,
            kind.as_str(),
            reason.as_str(),
        ])
        .inc();
    tracing::debug!(namespace = %route.namespace, route = %route.route, source = kind.as_str(), reason = reason.as_str(), "Intake refused");
}

/// A human put a task back to `pending` through the API (`tasks` of them at once for a
/// route's "retry failed").
pub fn tasks_retried_by_api(route: &RouteKey, tasks: u64, actor: &str) {
    METRICS
        .task_retries
        .with_label_values(&[&route.namespace, &route.route, "api"])
        .inc_by(tasks);
    tracing::info!(namespace = %route.namespace, route = %route.route, tasks, actor, "Tasks retried through the API");
}

/// A human discarded a task through the API.
pub fn task_discarded(route: &RouteKey, task: &str, actor: &str) {
    METRICS
        .tasks_discarded
        .with_label_values(&[&route.namespace, &route.route])
        .inc();
    tracing::info!(namespace = %route.namespace, route = %route.route, task, actor, "Task discarded through the API");
}

/// Why leased tasks were taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeBack {
    /// Their lease ran out: a runner died or stalled holding them.
    Expired,
    /// This runner restarted on its own SQLite queue.
    Restart,
}

/// `tasks` leased tasks were made due again undelivered.
pub fn leases_taken_back(reason: TakeBack, tasks: u64) {
    if tasks == 0 {
        return;
    }
    let label = match reason {
        TakeBack::Expired => "expired",
        TakeBack::Restart => "restart",
    };
    METRICS
        .lease_takebacks
        .with_label_values(&[label])
        .inc_by(tasks);
    match reason {
        TakeBack::Expired => tracing::warn!(
            tasks,
            "Took back tasks whose lease expired (a runner died or stalled); they run again"
        ),
        TakeBack::Restart => {
            tracing::info!(
                tasks,
                "Took back tasks leased before the last stop; they run again"
            )
        }
    }
}

/// The state of a Connection's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Deliveries go through.
    Closed,
    /// Deliveries are held back: the Connection failed too often.
    Open,
    /// A trial delivery decides whether the circuit closes again.
    HalfOpen,
}

impl CircuitState {
    pub const ALL: [CircuitState; 3] = [Self::Closed, Self::Open, Self::HalfOpen];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Connections whose circuit state is reported.
static CIRCUITS: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());

/// A Connection of the configuration: its circuit is reported `closed` until its
/// breaker says otherwise (a reload does not reset a reported state). Quiet.
pub fn circuit_registered(namespace: &str, connection: &str) {
    let mut known = CIRCUITS.lock().unwrap_or_else(|p| p.into_inner());
    if known.insert((namespace.to_owned(), connection.to_owned())) {
        set_circuit(namespace, connection, CircuitState::Closed);
    }
}

fn set_circuit(namespace: &str, connection: &str, state: CircuitState) {
    for candidate in CircuitState::ALL {
        METRICS
            .circuit_state
            .with_label_values(&[namespace, connection, candidate.as_str()])
            .set(i64::from(candidate == state));
    }
}

/// A Connection's circuit breaker is now in `state` (its breaker calls this on every
/// change). `why`: for the log.
pub fn circuit_changed(namespace: &str, connection: &str, state: CircuitState, why: &str) {
    CIRCUITS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert((namespace.to_owned(), connection.to_owned()));
    set_circuit(namespace, connection, state);
    match state {
        CircuitState::Open => tracing::warn!(
            namespace,
            connection,
            state = state.as_str(),
            why,
            "Circuit opened: deliveries through this Connection are held back"
        ),
        CircuitState::HalfOpen | CircuitState::Closed => {
            tracing::info!(
                namespace,
                connection,
                state = state.as_str(),
                why,
                "Circuit state changed"
            )
        }
    }
}

/// Whether a failed queue commit is logged.
pub enum CommitFailureLog {
    /// Commits were succeeding until this one.
    First,
    /// Still failing; the log repeats now and then.
    Repeat { failures: u64, since: Duration },
    /// Counted only.
    Quiet,
}

/// A queue transaction failed: every caller waiting on it got the error.
pub fn queue_commit_failed(
    fault: StorageFault,
    error: &QueueError,
    callers: usize,
    log: CommitFailureLog,
) {
    METRICS
        .queue_commit_failures
        .with_label_values(&[fault.as_str()])
        .inc();
    METRICS.queue_commits_failing.set(1);
    match log {
        CommitFailureLog::First => tracing::error!(
            reason = %fault,
            callers,
            cause = fault.describe(),
            error = %error,
            "Queue commits are failing; webhooks answer 503 and /readyz is not ready until a commit succeeds again"
        ),
        CommitFailureLog::Repeat { failures, since } => tracing::error!(
            reason = %fault,
            failures,
            failing_for_s = since.as_secs(),
            cause = fault.describe(),
            error = %error,
            "Queue commits are still failing"
        ),
        CommitFailureLog::Quiet => {}
    }
}

/// A queue commit succeeded after failures.
pub fn queue_commits_recovered(failures: u64, after: Duration) {
    METRICS.queue_commits_failing.set(0);
    tracing::info!(
        failures,
        failing_for_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
        "Queue commits succeed again"
    );
}

/// The queue gauges could not be read for a scrape.
pub fn queue_gauges_failed(error: &QueueError) {
    METRICS.queue_gauge_errors.inc();
    tracing::warn!(error = %error, "Cannot read the queue gauges for /metrics; they keep their last values");
}
