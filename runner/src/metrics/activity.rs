//! What each route delivered and what failed, per minute over the last hour on this
//! runner: the console's sparklines. Kept in memory beside the metrics (the queue is not
//! read for it): a restarted runner starts with an empty hour, and each replica counts
//! its own deliveries.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use crate::queue::{Outcome, RouteKey};

/// Minutes a series covers, the current one last.
pub const MINUTES: usize = 60;

const MINUTE_MS: i64 = 60_000;

/// Delivery attempts per minute of one route.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Series {
    /// Attempts that delivered, oldest minute first.
    pub delivered: Vec<u32>,
    /// Attempts that failed (to be retried, or for good), oldest minute first.
    pub failed: Vec<u32>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Minutes since the Unix epoch this bucket counts; other minutes read as 0.
    minute: i64,
    delivered: u32,
    failed: u32,
}

/// One route's ring of per-minute counts.
#[derive(Debug)]
pub struct Activity {
    buckets: Mutex<[Bucket; MINUTES]>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            buckets: Mutex::new([Bucket::default(); MINUTES]),
        }
    }
}

impl Activity {
    fn lock(&self) -> MutexGuard<'_, [Bucket; MINUTES]> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an attempt that ended with `outcome` at `now_ms`; outcomes that are
    /// neither a delivery nor a failure (skipped, handed back, waiting) are not counted.
    pub fn record(&self, outcome: &Outcome, now_ms: i64) {
        let (delivered, failed) = match outcome {
            Outcome::Done => (1, 0),
            Outcome::Retry { .. } | Outcome::Failed { .. } => (0, 1),
            Outcome::Skipped | Outcome::Released | Outcome::Waiting { .. } => return,
        };
        let minute = now_ms.div_euclid(MINUTE_MS);
        let mut buckets = self.lock();
        let bucket = &mut buckets[slot(minute)];
        if bucket.minute != minute {
            *bucket = Bucket {
                minute,
                ..Bucket::default()
            };
        }
        bucket.delivered = bucket.delivered.saturating_add(delivered);
        bucket.failed = bucket.failed.saturating_add(failed);
    }

    /// The last [`MINUTES`] minutes up to the one holding `now_ms`, oldest first.
    pub fn series(&self, now_ms: i64) -> Series {
        let now = now_ms.div_euclid(MINUTE_MS);
        let buckets = *self.lock();
        let mut series = Series {
            delivered: Vec::with_capacity(MINUTES),
            failed: Vec::with_capacity(MINUTES),
        };
        for minute in (now - MINUTES as i64 + 1)..=now {
            let bucket = buckets[slot(minute)];
            let (delivered, failed) = if bucket.minute == minute {
                (bucket.delivered, bucket.failed)
            } else {
                (0, 0)
            };
            series.delivered.push(delivered);
            series.failed.push(failed);
        }
        series
    }
}

fn slot(minute: i64) -> usize {
    // rem_euclid of a positive modulus is in 0..MINUTES.
    usize::try_from(minute.rem_euclid(MINUTES as i64)).unwrap_or(0)
}

static ROUTES: LazyLock<Mutex<HashMap<RouteKey, Arc<Activity>>>> = LazyLock::new(Default::default);

fn routes() -> MutexGuard<'static, HashMap<RouteKey, Arc<Activity>>> {
    ROUTES.lock().unwrap_or_else(|p| p.into_inner())
}

/// The activity of `route`, the same across configuration reloads.
pub fn of(route: &RouteKey) -> Arc<Activity> {
    routes().entry(route.clone()).or_default().clone()
}

/// The series of `route` up to `now_ms`; all zeros for a route without deliveries yet.
pub fn series(route: &RouteKey, now_ms: i64) -> Series {
    let activity = routes().get(route).cloned();
    activity.map_or_else(
        || Series {
            delivered: vec![0; MINUTES],
            failed: vec![0; MINUTES],
        },
        |a| a.series(now_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_796_000_000_000;

    fn failed() -> Outcome {
        Outcome::Failed { error: "no".into() }
    }

    #[test]
    fn counts_per_minute_with_the_current_minute_last() {
        let activity = Activity::default();
        activity.record(&Outcome::Done, T0);
        activity.record(&Outcome::Done, T0 + 1);
        activity.record(&failed(), T0 + 2);
        activity.record(&Outcome::Done, T0 + MINUTE_MS);
        activity.record(&Outcome::Skipped, T0 + MINUTE_MS);
        activity.record(&Outcome::Released, T0 + MINUTE_MS);
        let series = activity.series(T0 + MINUTE_MS);
        assert_eq!(series.delivered.len(), MINUTES);
        assert_eq!(series.failed.len(), MINUTES);
        assert_eq!(series.delivered[MINUTES - 2..], [2, 1]);
        assert_eq!(series.failed[MINUTES - 2..], [1, 0]);
        assert_eq!(series.delivered[..MINUTES - 2].iter().sum::<u32>(), 0);
    }

    #[test]
    fn minutes_older_than_an_hour_drop_out_and_their_slots_are_reused() {
        let activity = Activity::default();
        activity.record(&Outcome::Done, T0);
        let an_hour_later = T0 + MINUTES as i64 * MINUTE_MS;
        // The same slot, a new minute: the old count does not show in the new one.
        activity.record(&failed(), an_hour_later);
        let series = activity.series(an_hour_later);
        assert_eq!(series.delivered.iter().sum::<u32>(), 0);
        assert_eq!(series.failed[MINUTES - 1], 1);
        // Read a minute before the slot's reuse, the old minute is gone (over an hour).
        let later = activity.series(an_hour_later + 30 * MINUTE_MS);
        assert_eq!(later.failed[MINUTES - 31], 1);
        assert_eq!(later.failed.iter().sum::<u32>(), 1);
    }

    #[test]
    fn the_same_route_keeps_its_activity_across_lookups() {
        let key = RouteKey {
            namespace: "activity-test".into(),
            route: "orders".into(),
        };
        of(&key).record(&Outcome::Done, T0);
        assert_eq!(series(&key, T0).delivered[MINUTES - 1], 1);
        let other = RouteKey {
            namespace: "activity-test".into(),
            route: "other".into(),
        };
        assert_eq!(
            series(&other, T0),
            Series {
                delivered: vec![0; MINUTES],
                failed: vec![0; MINUTES],
            }
        );
    }
}
