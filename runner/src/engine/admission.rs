//! Back-pressure: whether a route may take new work. A route past its `maxPending`
//! (undelivered tasks: `pending` or `processing`) or a queue volume below its free-space
//! floor refuses new items — webhooks answer `429`/`503` with `Retry-After`, polls skip
//! their tick — and nothing already queued is touched.
//!
//! The check sits on the webhook hot path, so it must not cost a query per request.
//! Each route keeps an estimate: a count from the queue (bounded by the limit, see
//! [`QueueStore::undelivered`]) refreshed at most every [`RECOUNT`], plus the tasks this
//! runner committed since, minus the tasks this runner finished delivering since (so a
//! full route takes items again as soon as its deliveries make room). Tasks queued or
//! delivered by other runners of a shared queue are seen at the next recount. The free
//! space of the data directory (`statvfs`) is read at most every [`DISK_RECHECK`].
//!
//! Pacing, with or without `maxPending`: a route that delivers in real time and has
//! [`PACE_BACKLOG`] undelivered tasks while its deliveries go through takes new items
//! as its deliveries make room — the request waits (up to [`PACE_WAIT`], then it is
//! taken anyway) instead of the backlog growing as fast as senders send. On SQLite,
//! intake and delivery share the one queue writer and the CPU; unpaced, bulk intake
//! took ~13,000 items/s while its route delivered ~1,800/s, so the backlog and the
//! delay of every item grew for as long as the flood lasted. A route whose deliveries
//! do not go through (receiver down, circuit open) is not paced: its queue absorbs the
//! outage, and `maxPending` is what bounds it.
//!
//! Memory: the webhook bodies being parsed, transformed and committed at once hold at
//! most [`INTAKE_BYTES`] of body between them ([`Engine::intake_room`]); a request past
//! it waits for room before its body is parsed. The items a body turns into (parsed
//! values, tasks, their provenance) take about 20 times its size until they are
//! committed, so without the bound 64 senders of 100-item requests had 6,400 items in
//! memory at once, most of them waiting for the queue writer, which commits at most
//! 512 per transaction.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use crate::metrics::RouteMetrics;
use crate::metrics::events::{self, IntakeKind, RejectReason};
use crate::queue::{QueueStore, RouteKey};
use crate::runtime::RouteRuntime;

/// How stale a route's count of undelivered tasks may get.
const RECOUNT: Duration = Duration::from_millis(250);
/// How stale the free disk space may get.
const DISK_RECHECK: Duration = Duration::from_secs(1);
/// `Retry-After` of a route past its `maxPending`: about one recount cycle of a
/// draining queue, with room for the sender's own pace.
const PENDING_RETRY_AFTER_SECS: u32 = 5;
/// `Retry-After` below the disk floor: freeing space takes a human or retention.
const DISK_RETRY_AFTER_SECS: u32 = 30;
const MIB: u64 = 1024 * 1024;
/// Undelivered tasks from which a route that delivers in real time paces its intake:
/// a few seconds of deliveries on a small machine, and ten full delivery buffers, so
/// delivery never runs dry while intake waits.
const PACE_BACKLOG: u64 = 10_000;
/// Longest a paced request waits for room before it is taken anyway: pacing slows
/// senders down, it never refuses (that is `maxPending`'s job). Far below the usual
/// time-outs of webhook senders.
const PACE_WAIT: Duration = Duration::from_secs(2);
/// A route's deliveries go through when one finished within this long.
const PROGRESS_WINDOW: Duration = Duration::from_secs(1);
/// Request body bytes in intake at once (parsed, transformed, waiting for the commit):
/// about 20 MiB of items in memory, and several full transactions of the queue writer
/// for bodies of 100 small items (32 requests of 32 KiB). A larger body goes alone.
const INTAKE_BYTES: usize = 1 << 20;

/// The runner's back-pressure settings (from its flags; the operator sets them from the
/// Tenant's `spec.backPressure`).
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// `maxPending` of every route that does not set its own.
    pub default_max_pending: Option<u64>,
    /// Free space the queue's volume must keep; `None` for no floor (PostgreSQL).
    pub disk_floor: Option<DiskFloor>,
}

/// A floor of free space on the file system of `dir`.
#[derive(Debug, Clone)]
pub struct DiskFloor {
    pub dir: PathBuf,
    pub min_free_mib: u64,
}

/// Where a route's `maxPending` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// The Route's `spec.processing.maxPending`.
    Route,
    /// The tenant's default (`spec.backPressure.maxPendingPerRoute`, `--max-pending`).
    Tenant,
}

impl LimitSource {
    /// The setting, as a user writes it.
    pub fn field(self) -> &'static str {
        match self {
            Self::Route => "spec.processing.maxPending",
            Self::Tenant => "the tenant default maxPendingPerRoute",
        }
    }
}

/// Why new work is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "route {route} has {pending} undelivered tasks, at its limit of {limit} ({}); \
         the tasks already queued are kept and delivered, try again once they drain",
        set_by.field()
    )]
    MaxPending {
        route: String,
        pending: u64,
        limit: u64,
        set_by: LimitSource,
    },
    #[error(
        "the queue's volume has {free_mib} MiB free, below its floor of {floor_mib} MiB \
         (minFreeDiskMebibytes); the tasks already queued are kept, try again once space is freed"
    )]
    DiskFloor { free_mib: u64, floor_mib: u64 },
}

impl Refusal {
    /// Seconds the sender is asked to wait.
    pub fn retry_after_secs(&self) -> u32 {
        match self {
            Self::MaxPending { .. } => PENDING_RETRY_AFTER_SECS,
            Self::DiskFloor { .. } => DISK_RETRY_AFTER_SECS,
        }
    }

    /// A fixed label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::MaxPending { .. } => "max_pending",
            Self::DiskFloor { .. } => "disk_floor",
        }
    }

    /// The limit's name and value, and where the count stands (for API answers).
    pub fn limit(&self) -> (&'static str, u64, u64) {
        match self {
            Self::MaxPending { pending, limit, .. } => ("maxPending", *limit, *pending),
            Self::DiskFloor {
                free_mib,
                floor_mib,
            } => ("minFreeDiskMebibytes", *floor_mib, *free_mib),
        }
    }
}

/// A route's count of undelivered tasks.
struct Estimate {
    /// As last counted in the queue.
    counted: u64,
    at: Instant,
    /// Committed by this runner since the count started.
    added: u64,
    /// Delivered (or otherwise finished) by this runner since the count started.
    finished: u64,
    /// When this runner last finished one of the route's tasks.
    last_finished: Option<Instant>,
    /// A recount is under way; others use the estimate meanwhile.
    recounting: bool,
    /// Wakes paced requests when deliveries made room.
    room: Arc<Notify>,
}

impl Estimate {
    fn new(counted: u64) -> Self {
        Self {
            counted,
            at: Instant::now(),
            added: 0,
            finished: 0,
            last_finished: None,
            recounting: false,
            room: Arc::default(),
        }
    }

    fn value(&self) -> u64 {
        (self.counted + self.added).saturating_sub(self.finished)
    }

    /// Whether the route's deliveries go through (see [`PROGRESS_WINDOW`]).
    fn progressing(&self) -> bool {
        self.last_finished
            .is_some_and(|at| at.elapsed() < PROGRESS_WINDOW)
    }
}

/// Ticks a poller skipped, for the task log of its next run.
struct Skipped {
    ticks: u64,
    first_at: chrono::DateTime<Utc>,
    reason: String,
}

pub(crate) struct Admission {
    limits: Limits,
    estimates: Mutex<HashMap<RouteKey, Estimate>>,
    /// When the disk was last checked, and its free bytes then.
    disk: Mutex<Option<(Instant, u64)>>,
    skipped: Mutex<HashMap<RouteKey, Skipped>>,
    /// Room for request bodies in intake, one permit per byte ([`INTAKE_BYTES`]).
    intake: Semaphore,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Admission {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            estimates: Mutex::default(),
            disk: Mutex::default(),
            skipped: Mutex::default(),
            intake: Semaphore::new(INTAKE_BYTES),
        }
    }

    /// Waits until a body of `bytes` fits in [`INTAKE_BYTES`] beside the bodies in
    /// intake (first come, first served; a body larger than the bound waits until it is
    /// alone); the room is held until the permit is dropped.
    async fn room(&self, bytes: usize) -> Option<SemaphorePermit<'_>> {
        // At least one: an empty body waits its turn like the others.
        let permits = u32::try_from(bytes.clamp(1, INTAKE_BYTES)).unwrap_or(u32::MAX);
        // The semaphore is never closed.
        self.intake.acquire_many(permits).await.ok()
    }

    /// The `maxPending` in force for `route`, and where it comes from.
    fn max_pending(&self, route: &RouteRuntime) -> Option<(u64, LimitSource)> {
        match route.compiled.processing.max_pending {
            Some(limit) => Some((limit, LimitSource::Route)),
            None => self
                .limits
                .default_max_pending
                .map(|limit| (limit, LimitSource::Tenant)),
        }
    }

    /// Whether `route` may take new items now; waits while its intake is paced.
    pub(crate) async fn check(
        &self,
        store: &dyn QueueStore,
        route: &RouteRuntime,
    ) -> Result<(), Refusal> {
        self.check_disk()?;
        let limit = self.max_pending(route);
        let paced = paces(route);
        // Counted as far as the higher of the bounds that apply.
        let bound = match (limit, paced) {
            (None, false) => return Ok(()),
            (None, true) => PACE_BACKLOG,
            (Some((limit, _)), false) => limit,
            (Some((limit, _)), true) => limit.max(PACE_BACKLOG),
        };
        let mut pending = self.undelivered(store, &route.key, bound).await;
        if paced && pending >= PACE_BACKLOG && limit.is_none_or(|(limit, _)| pending < limit) {
            pending = self.pace(store, &route.key, bound).await;
        }
        match limit {
            Some((limit, set_by)) if pending >= limit => Err(Refusal::MaxPending {
                route: route.key.route.clone(),
                pending,
                limit,
                set_by,
            }),
            _ => Ok(()),
        }
    }

    /// Waits while the route has [`PACE_BACKLOG`] undelivered tasks and its deliveries
    /// go through, at most [`PACE_WAIT`]; the estimate then.
    async fn pace(&self, store: &dyn QueueStore, key: &RouteKey, bound: u64) -> u64 {
        let deadline = tokio::time::Instant::now() + PACE_WAIT;
        loop {
            let Some(room) = lock(&self.estimates).get(key).map(|e| e.room.clone()) else {
                return 0;
            };
            let notified = room.notified();
            tokio::pin!(notified);
            // Registered before the estimate is read: no wake-up is missed.
            notified.as_mut().enable();
            let Some((pending, progressing)) = lock(&self.estimates)
                .get(key)
                .map(|e| (e.value(), e.progressing()))
            else {
                return 0;
            };
            let now = tokio::time::Instant::now();
            if pending < PACE_BACKLOG || !progressing || now >= deadline {
                return pending;
            }
            tokio::select! {
                () = notified => {}
                // Tasks finished by other runners show at the next recount.
                () = tokio::time::sleep_until(deadline.min(now + RECOUNT)) => {
                    self.undelivered(store, key, bound).await;
                }
            }
        }
    }

    /// The estimate of a route's undelivered tasks, recounted when stale (by one caller;
    /// the others use the estimate meanwhile).
    async fn undelivered(&self, store: &dyn QueueStore, key: &RouteKey, limit: u64) -> u64 {
        let before = {
            let mut estimates = lock(&self.estimates);
            match estimates.get_mut(key) {
                Some(e) if e.recounting || e.at.elapsed() < RECOUNT => {
                    return e.value();
                }
                Some(e) => {
                    e.recounting = true;
                    Some((e.added, e.finished))
                }
                None => None,
            }
        };
        let counted = store.undelivered(key, limit).await;
        let mut estimates = lock(&self.estimates);
        match (counted, estimates.get_mut(key)) {
            (Ok(counted), Some(e)) => {
                let (added, finished) = before.unwrap_or_default();
                e.added = e.added.saturating_sub(added);
                e.finished = e.finished.saturating_sub(finished);
                e.counted = counted;
                e.at = Instant::now();
                e.recounting = false;
                e.value()
            }
            (Ok(counted), None) => {
                estimates.insert(key.clone(), Estimate::new(counted));
                counted
            }
            (Err(error), estimate) => {
                // The intake's own commit will say whether the queue works; a count
                // that fails does not refuse work.
                tracing::warn!(namespace = %key.namespace, route = %key.route, error = %error, "Cannot count the route's undelivered tasks; not limiting this request");
                estimate.map_or(0, |e| {
                    e.recounting = false;
                    e.value()
                })
            }
        }
    }

    /// Tasks committed by this runner: they count at once, before the next recount.
    pub(crate) fn committed(&self, routes: &[(Arc<RouteMetrics>, usize)]) {
        let mut estimates = lock(&self.estimates);
        for (route, tasks) in routes {
            if let Some(estimate) = estimates.get_mut(route.key()) {
                estimate.added += *tasks as u64;
            }
        }
    }

    /// This runner committed the outcomes of `tasks` of the route's tasks that are no
    /// longer undelivered (done, skipped, failed, waiting): they leave the estimate at
    /// once, and paced requests may go.
    pub(crate) fn finished(&self, key: &RouteKey, tasks: u64) {
        if tasks == 0 {
            return;
        }
        let mut estimates = lock(&self.estimates);
        if let Some(estimate) = estimates.get_mut(key) {
            estimate.finished += tasks;
            estimate.last_finished = Some(Instant::now());
            estimate.room.notify_waiters();
        }
    }

    fn check_disk(&self) -> Result<(), Refusal> {
        let Some(floor) = &self.limits.disk_floor else {
            return Ok(());
        };
        if floor.min_free_mib == 0 {
            return Ok(());
        }
        let free = {
            let mut disk = lock(&self.disk);
            match *disk {
                Some((at, free)) if at.elapsed() < DISK_RECHECK => free,
                _ => match free_bytes(&floor.dir) {
                    Ok(free) => {
                        *disk = Some((Instant::now(), free));
                        free
                    }
                    Err(error) => {
                        *disk = Some((Instant::now(), u64::MAX));
                        tracing::warn!(dir = %floor.dir.display(), error = %error, "Cannot read the free space of the data directory; the disk floor is not checked");
                        u64::MAX
                    }
                },
            }
        };
        if free < floor.min_free_mib.saturating_mul(MIB) {
            return Err(Refusal::DiskFloor {
                free_mib: free / MIB,
                floor_mib: floor.min_free_mib,
            });
        }
        Ok(())
    }

    /// A poller skipped its tick: counted, logged, and remembered for the task log of
    /// the next run that queues tasks.
    pub(crate) fn poll_skipped(&self, key: &RouteKey, refusal: &Refusal) {
        events::intake_rejected(key, IntakeKind::Poll, RejectReason::Full);
        tracing::warn!(namespace = %key.namespace, route = %key.route, reason = refusal.category(), error = %refusal, "Poll skipped by back-pressure");
        let mut skipped = lock(&self.skipped);
        let entry = skipped.entry(key.clone()).or_insert_with(|| Skipped {
            ticks: 0,
            first_at: Utc::now(),
            reason: String::new(),
        });
        entry.ticks += 1;
        entry.reason = refusal.to_string();
    }

    /// The note for the next poll's tasks about the ticks skipped before it, if any.
    pub(crate) fn skipped_note(&self, key: &RouteKey) -> Option<String> {
        let skipped = lock(&self.skipped);
        let entry = skipped.get(key)?;
        Some(format!(
            "Back-pressure: the poll skipped {} tick(s) since {} before this run ({})",
            entry.ticks,
            entry.first_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            entry.reason
        ))
    }

    /// The skipped ticks are in a task log now.
    pub(crate) fn skipped_noted(&self, key: &RouteKey) {
        lock(&self.skipped).remove(key);
    }
}

impl super::Engine {
    /// Room for a request body of `bytes` in intake (see [`INTAKE_BYTES`]): taken before
    /// the body is parsed, held until its tasks are committed (or refused).
    pub(crate) async fn intake_room(&self, bytes: usize) -> Option<SemaphorePermit<'_>> {
        self.admission.room(bytes).await
    }
}

/// Whether the route's intake is paced by its deliveries: it delivers in real time
/// (a scheduled route's backlog is there by design; a proxy queues nothing).
fn paces(route: &RouteRuntime) -> bool {
    route.delivery_schedule.is_none() && !route.is_proxy() && !route.suspended()
}

/// Bytes available to the runner on the file system of `dir`.
fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_floor_refuses_below_it_and_is_off_at_zero() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let free = free_bytes(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(free > 0);
        let floor = |min_free_mib| {
            Admission::new(Limits {
                default_max_pending: None,
                disk_floor: Some(DiskFloor {
                    dir: dir.path().to_owned(),
                    min_free_mib,
                }),
            })
        };
        assert_eq!(floor(0).check_disk(), Ok(()));
        assert_eq!(floor(1).check_disk(), Ok(()));
        let refused = floor(u64::MAX / MIB).check_disk();
        assert!(
            matches!(refused, Err(Refusal::DiskFloor { free_mib, .. }) if free_mib == free / MIB),
            "{refused:?}"
        );
    }

    #[test]
    fn committed_tasks_count_before_the_recount() {
        let admission = Admission::new(Limits::default());
        let key = RouteKey {
            namespace: "default".into(),
            route: "items".into(),
        };
        let metrics = Arc::new(RouteMetrics::new(&key));
        admission.committed(&[(metrics.clone(), 3)]);
        // No estimate yet: the first check counts in the queue.
        assert!(lock(&admission.estimates).get(&key).is_none());
        lock(&admission.estimates).insert(key.clone(), Estimate::new(5));
        admission.committed(&[(metrics, 3)]);
        let estimate = lock(&admission.estimates).get(&key).map(Estimate::value);
        assert_eq!(estimate, Some(8));
        // Deliveries lower it at once.
        admission.finished(&key, 6);
        let estimate = lock(&admission.estimates).get(&key).map(Estimate::value);
        assert_eq!(estimate, Some(2));
    }

    /// A body waits for room while others hold the intake's budget; one larger than the
    /// budget goes in alone once the others are done, and the room comes back.
    #[tokio::test]
    async fn intake_bodies_wait_for_room_within_the_budget() {
        let admission = Arc::new(Admission::new(Limits::default()));
        let half = admission.room(INTAKE_BYTES / 2).await;
        let quarter = admission.room(INTAKE_BYTES / 4).await;
        assert!(half.is_some() && quarter.is_some());
        assert_eq!(admission.intake.available_permits(), INTAKE_BYTES / 4);
        // A body larger than what is left waits.
        let (large_in, mut large_rx) = tokio::sync::oneshot::channel();
        let (small_in, small_rx) = tokio::sync::oneshot::channel();
        let waiting = {
            let admission = admission.clone();
            tokio::spawn(async move {
                let large = admission.room(32 * INTAKE_BYTES).await;
                let _ = large_in.send(large.is_some());
                drop(large);
                let small = admission.room(1).await;
                let _ = small_in.send(small.is_some());
            })
        };
        tokio::task::yield_now().await;
        assert!(large_rx.try_recv().is_err(), "the large body waits");
        drop(half);
        tokio::task::yield_now().await;
        assert!(large_rx.try_recv().is_err(), "not alone yet");
        drop(quarter);
        assert_eq!(large_rx.await, Ok(true), "alone, it goes in");
        assert_eq!(small_rx.await, Ok(true), "then the next one");
        waiting.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(admission.intake.available_permits(), INTAKE_BYTES);
        // An empty body takes room too.
        let empty = admission.room(0).await;
        assert_eq!(admission.intake.available_permits(), INTAKE_BYTES - 1);
        drop(empty);
    }

    /// A route at the pacing backlog whose deliveries go through holds a request until
    /// a delivery makes room; one whose deliveries do not is not held at all.
    #[tokio::test]
    async fn a_flooded_route_waits_for_its_deliveries_only_while_they_go_through() {
        let store = crate::queue::SqlQueue::connect("sqlite::memory:", Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let admission = Arc::new(Admission::new(Limits::default()));
        let key = RouteKey {
            namespace: "default".into(),
            route: "items".into(),
        };
        // Not progressing (nothing delivered lately): answered at once, not held.
        lock(&admission.estimates).insert(key.clone(), Estimate::new(PACE_BACKLOG));
        let started = Instant::now();
        let pending = admission.pace(&store, &key, PACE_BACKLOG).await;
        assert_eq!(pending, PACE_BACKLOG);
        assert!(started.elapsed() < Duration::from_millis(100), "not held");

        // Progressing: held until a delivery lowers the backlog. (The estimate is
        // fresh, so the store, which holds no tasks, is never counted: a recount
        // would answer 0, not the value below.)
        lock(&admission.estimates).insert(key.clone(), {
            let mut estimate = Estimate::new(PACE_BACKLOG + 1);
            estimate.last_finished = Some(Instant::now());
            estimate
        });
        let started = Instant::now();
        let held = {
            let admission = admission.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let store = store;
                admission.pace(&store, &key, PACE_BACKLOG).await
            })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!held.is_finished(), "held while the backlog is full");
        admission.finished(&key, 2);
        let pending = held.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pending, PACE_BACKLOG - 1);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(30) && waited < PACE_WAIT,
            "released by the delivery, not by the deadline: {waited:?}"
        );
    }
}
