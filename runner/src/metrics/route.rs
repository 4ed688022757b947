//! Handles of one route's metrics, resolved once when the route is built, so the hot
//! path bumps an atomic instead of hashing labels per item.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use prometheus::{Histogram, IntCounter};

use super::activity::{self, Activity};
use super::{METRICS, route_histogram};
use crate::queue::{Outcome, RouteKey};

/// The sources an intake names (`NewTask::source`), resolved on first use.
const SOURCES: [&str; 4] = ["webhook", "poll", "manual", "trigger"];

/// Outcomes of an attempt, in the order of [`outcome_index`].
const OUTCOMES: [&str; 6] = ["done", "retry", "failed", "skipped", "released", "waiting"];

fn outcome_index(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Done => 0,
        Outcome::Retry { .. } => 1,
        Outcome::Failed { .. } => 2,
        Outcome::Skipped => 3,
        Outcome::Released => 4,
        Outcome::Waiting { .. } => 5,
    }
}

/// One route's metric handles.
pub struct RouteMetrics {
    key: RouteKey,
    received: [OnceLock<IntCounter>; SOURCES.len()],
    intake: [OnceLock<Histogram>; SOURCES.len()],
    tasks_created: IntCounter,
    attempts: [IntCounter; OUTCOMES.len()],
    retries_backoff: IntCounter,
    _api_series: (IntCounter, IntCounter),
    queue_wait: Histogram,
    delivery: Histogram,
    end_to_end: Histogram,
    /// Per-minute deliveries and failures for the console (kept across reloads).
    activity: Arc<Activity>,
}

impl RouteMetrics {
    /// Resolves the handles; the counters of every outcome exist from now on (at 0), so
    /// ratios over them are defined before the first failure.
    pub fn new(key: &RouteKey) -> Self {
        let (namespace, route) = (key.namespace.as_str(), key.route.as_str());
        Self {
            key: key.clone(),
            received: Default::default(),
            intake: Default::default(),
            tasks_created: METRICS.tasks_created.with_label_values(&[namespace, route]),
            attempts: OUTCOMES.map(|outcome| {
                METRICS
                    .delivery_attempts
                    .with_label_values(&[namespace, route, outcome])
            }),
            retries_backoff: METRICS
                .task_retries
                .with_label_values(&[namespace, route, "backoff"]),
            // Bumped by the API (events::tasks_retried_by_api, task_discarded); resolved
            // here so the series exist at 0.
            _api_series: (
                METRICS
                    .task_retries
                    .with_label_values(&[namespace, route, "api"]),
                METRICS
                    .tasks_discarded
                    .with_label_values(&[namespace, route]),
            ),
            queue_wait: route_histogram(&METRICS.queue_wait, namespace, route),
            delivery: route_histogram(&METRICS.delivery_duration, namespace, route),
            end_to_end: route_histogram(&METRICS.end_to_end, namespace, route),
            activity: activity::of(key),
        }
    }

    pub fn key(&self) -> &RouteKey {
        &self.key
    }

    fn received(&self, source: &str) -> IntCounter {
        let labels = |source: &str| {
            METRICS.items_received.with_label_values(&[
                &self.key.namespace,
                &self.key.route,
                source,
            ])
        };
        match SOURCES.iter().position(|s| *s == source) {
            Some(i) => self.received[i].get_or_init(|| labels(source)).clone(),
            None => labels(source),
        }
    }

    fn intake(&self, source: &str) -> Histogram {
        let labels = |source: &str| {
            METRICS.intake_duration.with_label_values(&[
                &self.key.namespace,
                &self.key.route,
                source,
            ])
        };
        match SOURCES.iter().position(|s| *s == source) {
            Some(i) => self.intake[i].get_or_init(|| labels(source)).clone(),
            None => labels(source),
        }
    }

    /// Items came in from `source` and became `tasks` committed tasks.
    pub(crate) fn intake_committed(&self, source: &str, items: usize, tasks: usize) {
        self.received(source).inc_by(items as u64);
        self.tasks_created.inc_by(tasks as u64);
    }

    /// An intake from `source`, from its start to the commit of its tasks.
    pub(crate) fn intake_took(&self, source: &str, took: Duration) {
        self.intake(source).observe(took.as_secs_f64());
    }

    pub(crate) fn attempted(&self, outcome: &Outcome, took: Duration) {
        self.attempts[outcome_index(outcome)].inc();
        if matches!(outcome, Outcome::Retry { .. }) {
            self.retries_backoff.inc();
        }
        self.delivery.observe(took.as_secs_f64());
        self.activity.record(outcome, crate::queue::now_ms());
    }

    /// A task's first attempt starts `waited` after its commit.
    pub(crate) fn first_attempt(&self, waited: Duration) {
        self.queue_wait.observe(waited.as_secs_f64());
    }

    /// A task was delivered `after` its commit.
    pub(crate) fn delivered(&self, after: Duration) {
        self.end_to_end.observe(after.as_secs_f64());
    }
}

/// Times one transformer step; off (free) for steps that are not top-level steps of a
/// route (a `when` block's inner steps count in the block's time).
#[derive(Default, Clone)]
pub struct StepTimer(Option<Histogram>);

impl StepTimer {
    pub fn new(key: &RouteKey, step: &str, kind: &str) -> Self {
        Self(Some(METRICS.step_duration.with_label_values(&[
            &key.namespace,
            &key.route,
            step,
            kind,
        ])))
    }

    /// `Some(now)` when timing.
    pub fn start(&self) -> Option<Instant> {
        self.0.as_ref().map(|_| Instant::now())
    }

    pub fn stop(&self, started: Option<Instant>) {
        if let (Some(histogram), Some(started)) = (&self.0, started) {
            histogram.observe(started.elapsed().as_secs_f64());
        }
    }
}
