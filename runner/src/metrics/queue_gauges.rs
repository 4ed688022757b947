//! Gauges read from the queue when `/metrics` is scraped: tasks per state and the age
//! of the oldest pending task, per configured route. One grouped count and one indexed
//! lookup per route, at most once per [`QUEUE_GAUGE_TTL`] however many scrapers ask.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{METRICS, events};
use crate::queue::{QueueStore, RouteKey, TaskState, now_ms};

/// How long read gauges are reused.
pub const QUEUE_GAUGE_TTL: Duration = Duration::from_secs(2);

struct Cache {
    read_at: Option<Instant>,
    /// The routes whose series were set last time (to remove those no longer configured).
    routes: BTreeSet<RouteKey>,
}

static CACHE: tokio::sync::Mutex<Cache> = tokio::sync::Mutex::const_new(Cache {
    read_at: None,
    routes: BTreeSet::new(),
});

/// Reads the queue gauges of `routes` unless they were read within the TTL. A queue
/// that does not answer leaves the last values (and counts the failure).
pub async fn refresh_queue_gauges(store: &dyn QueueStore, routes: Vec<RouteKey>) {
    let mut cache = CACHE.lock().await;
    if cache
        .read_at
        .is_some_and(|at| at.elapsed() < QUEUE_GAUGE_TTL)
    {
        return;
    }
    let gauges = match store.gauges(&routes).await {
        Ok(gauges) => gauges,
        Err(error) => {
            events::queue_gauges_failed(&error);
            return;
        }
    };
    let now = now_ms();
    let current: BTreeSet<RouteKey> = gauges.iter().map(|g| g.route.clone()).collect();
    for gone in cache.routes.difference(&current) {
        for state in TaskState::ALL {
            let _ =
                METRICS
                    .tasks
                    .remove_label_values(&[&gone.namespace, &gone.route, state.as_str()]);
        }
        let _ = METRICS
            .oldest_pending_age
            .remove_label_values(&[&gone.namespace, &gone.route]);
    }
    for gauge in &gauges {
        let (namespace, route) = (gauge.route.namespace.as_str(), gauge.route.route.as_str());
        for state in TaskState::ALL {
            METRICS
                .tasks
                .with_label_values(&[namespace, route, state.as_str()])
                .set(gauge.counts.get(state));
        }
        let age_ms = gauge
            .oldest_pending_ms
            .map_or(0, |oldest| (now - oldest).max(0));
        METRICS
            .oldest_pending_age
            .with_label_values(&[namespace, route])
            .set(age_ms as f64 / 1000.0);
    }
    cache.routes = current;
    cache.read_at = Some(Instant::now());
}
