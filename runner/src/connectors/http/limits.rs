//! Per-Connection request limits, shared by every route that uses the Connection: a
//! smooth rate (requests spread evenly over each second) and a cap on requests in
//! flight. Small enough to keep here rather than pull in a rate-limiting crate.

use std::sync::Arc;
use std::time::Duration;

use switchyard_crds::v1alpha1::HttpLimits;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct Limits {
    /// Time between two requests.
    interval: Option<Duration>,
    /// When the next request may start.
    next_start: Mutex<Option<Instant>>,
    in_flight: Option<Arc<Semaphore>>,
}

impl Limits {
    pub fn new(spec: Option<&HttpLimits>) -> Self {
        let Some(spec) = spec else {
            return Self::default();
        };
        Self {
            interval: spec
                .requests_per_second
                .filter(|rate| *rate > 0)
                .map(|rate| Duration::from_secs(1) / rate),
            next_start: Mutex::new(None),
            in_flight: spec
                .max_concurrent
                .filter(|max| *max > 0)
                .map(|max| Arc::new(Semaphore::new(max as usize))),
        }
    }

    /// Waits until a request may start; the returned slot must be held until the
    /// response has been read.
    pub async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        let slot = match &self.in_flight {
            Some(semaphore) => semaphore.clone().acquire_owned().await.ok(),
            None => None,
        };
        if let Some(interval) = self.interval {
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
}
