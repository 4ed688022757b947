//! Per-Connection request limits, shared by every route that uses the Connection: a
//! smooth rate (requests spread evenly over each second) and a cap on requests in
//! flight. They hold for the tenant: several runners on one queue divide them by the
//! number of live runners (see `docs/scaling.md` for why divided, not shared through
//! the database). Small enough to keep here rather than pull in a rate-limiting crate.

use std::sync::Arc;
use std::time::Duration;

use switchyard_crds::v1alpha1::HttpLimits;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct Limits {
    /// The Connection's `requestsPerSecond`, for the whole tenant.
    rate: Option<u32>,
    /// When the next request may start.
    next_start: Mutex<Option<Instant>>,
    /// The Connection's `maxConcurrent` as permits; a request takes as many as there
    /// are live runners (at most all of them).
    in_flight: Option<(Arc<Semaphore>, u32)>,
}

impl Limits {
    pub fn new(spec: Option<&HttpLimits>) -> Self {
        let Some(spec) = spec else {
            return Self::default();
        };
        Self {
            rate: spec.requests_per_second.filter(|rate| *rate > 0),
            next_start: Mutex::new(None),
            in_flight: spec
                .max_concurrent
                .filter(|max| *max > 0)
                .map(|max| (Arc::new(Semaphore::new(max as usize)), max)),
        }
    }

    /// Waits until a request may start; the returned slot must be held until the
    /// response has been read. The limits hold for the tenant as a whole: with `n`
    /// runners alive on the queue ([`crate::replicas::live`]), this runner keeps to a
    /// `1/n` share of the rate and of the requests in flight (at least one).
    pub async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.admit_as(crate::replicas::live()).await
    }

    async fn admit_as(&self, runners: u32) -> Option<OwnedSemaphorePermit> {
        let runners = runners.max(1);
        let slot = match &self.in_flight {
            Some((semaphore, max)) => semaphore
                .clone()
                .acquire_many_owned(runners.min(*max))
                .await
                .ok(),
            None => None,
        };
        if let Some(rate) = self.rate {
            let interval = Duration::from_secs(1) * runners / rate;
            let start = {
                let mut next = self.next_start.lock().await;
                let now = Instant::now();
                let start = next.map_or(now, |at| at.max(now));
                *next = Some(start + interval);
                start
            };
            tokio::time::sleep_until(start).await;
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spread_over_the_second_and_capped_in_flight() {
        let limits = Limits::new(Some(&HttpLimits {
            requests_per_second: Some(4),
            max_concurrent: Some(2),
        }));
        let started = Instant::now();
        let mut slots = Vec::new();
        for _ in 0..2 {
            slots.push(limits.admit().await);
        }
        // Two in flight: a third waits for a slot.
        assert!(
            tokio::time::timeout(Duration::from_secs(5), limits.admit())
                .await
                .is_err()
        );
        slots.clear();
        for _ in 0..2 {
            drop(limits.admit().await);
        }
        // Five admissions at 4 per second (the timed-out one reserved a start too).
        assert!(
            started.elapsed() >= Duration::from_millis(1_000),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn three_live_runners_each_keep_a_third_of_the_limits() {
        // 6 per second among 3 runners: one start every 500 ms here.
        let rate = Limits::new(Some(&HttpLimits {
            requests_per_second: Some(6),
            max_concurrent: None,
        }));
        let started = Instant::now();
        for _ in 0..4 {
            drop(rate.admit_as(3).await);
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1_500) && elapsed < Duration::from_millis(2_000),
            "{elapsed:?}"
        );
        // 7 in flight among 3 runners: two here, a third waits.
        let cap = Limits::new(Some(&HttpLimits {
            requests_per_second: None,
            max_concurrent: Some(7),
        }));
        let first = cap.admit_as(3).await;
        let second = cap.admit_as(3).await;
        assert!(
            tokio::time::timeout(Duration::from_secs(5), cap.admit_as(3))
                .await
                .is_err()
        );
        drop((first, second));
        assert!(cap.admit_as(3).await.is_some());
        // More runners than `maxConcurrent`: still one request in flight each.
        let few = Limits::new(Some(&HttpLimits {
            requests_per_second: None,
            max_concurrent: Some(2),
        }));
        assert!(few.admit_as(5).await.is_some());
    }
}
