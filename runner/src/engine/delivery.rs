//! Delivery: lease ready tasks, run the outgoing pipeline, send, record the outcome.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Engine;
use super::attempt::{Attempted, attempt, attempt_batch};
use crate::circuit::{Gate, Outlook, Pass};
use crate::queue::{Completion, LeasedTask, LogLine, Outcome, now_ms};
use crate::runtime::RouteRuntime;

/// Most tasks leased at once by the fewest rounds of deliveries (see [`Prefetch`]).
const MAX_LEASE_BATCH: usize = 256;
/// Most tasks buffered (and leased at once) when the slots take them fast; bounds the
/// size of a lease transaction.
const MAX_BUFFER: usize = 1024;
/// Most memory the buffered tasks hold (as [`task_bytes`] estimates it): a lease asks
/// for no more tasks than fit at the size of the largest recent item, so large items
/// are buffered a few at a time, not [`MAX_BUFFER`] of them.
const MAX_BUFFER_BYTES: usize = 8 << 20;
/// Tasks of a worker's first lease, before any item's size is known.
const SIZING_LEASE: usize = 16;
/// A full buffer lasts about this long at the pace the slots take its tasks: far less
/// than a lease, long enough to cover a lease that waits for a busy queue writer.
const BUFFER_HORIZON: Duration = Duration::from_millis(250);
/// How often an idle worker looks for due retries and, on a shared PostgreSQL queue,
/// for tasks queued by other runners.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How often a batch waiting for more tasks looks for them on a shared queue (tasks
/// queued by this runner wake it at once).
const BATCH_POLL: Duration = Duration::from_millis(50);
/// Pause after a queue error before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Time until the next occurrence of a cron schedule.
pub(super) fn until_next(schedule: &croner::Cron) -> Option<Duration> {
    super::poller::next_tick(schedule).map(|(wait, _)| wait)
}

pub(super) async fn run(
    engine: Arc<Engine>,
    route: Arc<RouteRuntime>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    let wakeup = engine.wakeup(&route.key);
    let max_concurrency = (route.compiled.processing.max_concurrency as usize).max(1);
    let slots = Arc::new(Semaphore::new(max_concurrency));
    // Two rounds of deliveries per lease: fewer, larger lease transactions.
    // Not more: a buffered task waits for a slot while its lease runs, so with one slow
    // slot a larger buffer could outlive the lease and be delivered twice.
    let per_slot = route.sink.batch_size().max(1);
    // A batch larger than a usual lease still gets two batches' worth.
    let lease_cap = MAX_LEASE_BATCH.max(2 * per_slot);
    let mut prefetch = Prefetch::new((2 * max_concurrency * per_slot).min(lease_cap));
    loop {
        if let Some(schedule) = &route.delivery_schedule {
            let Some(wait) = until_next(schedule) else {
                return;
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            // A scheduled run drains what is due, then sleeps until the next tick.
            tracing::debug!(namespace = %route.key.namespace, route = %route.key.route, "Scheduled delivery run");
            prefetch.drained = false;
            loop {
                match next_step(&engine, &route, &slots, &tracker, &cancel, &mut prefetch).await {
                    Step::Dispatched => {}
                    Step::Stopped => return,
                    // The run goes on once the circuit lets deliveries through again.
                    Step::Held(until_ms) => {
                        if held(&route, until_ms, &cancel).await.is_err() {
                            return;
                        }
                        prefetch.drained = false;
                    }
                    Step::Empty | Step::LeaseFailed => break,
                }
            }
            continue;
        }
        match next_step(&engine, &route, &slots, &tracker, &cancel, &mut prefetch).await {
            Step::Dispatched => {}
            Step::Stopped => return,
            Step::Held(until_ms) => {
                if held(&route, until_ms, &cancel).await.is_err() {
                    return;
                }
                prefetch.drained = false;
            }
            Step::LeaseFailed => tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(ERROR_PAUSE) => {}
            },
            Step::Empty => {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = wakeup.notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
                prefetch.drained = false;
            }
        }
    }
}

/// What one step of a delivery worker did.
enum Step {
    /// Started delivering a task.
    Dispatched,
    /// Nothing is due.
    Empty,
    /// The queue did not answer.
    LeaseFailed,
    /// The worker is stopping; buffered tasks went back to the queue.
    Stopped,
    /// The Connection's circuit is open until this time (`None`: half-open, its trial
    /// out); buffered tasks went back to the queue without spending an attempt.
    Held(Option<i64>),
}

/// Waits while the route's circuit holds deliveries back: until the cool-down ends,
/// the circuit changes, or (half-open) a short while. `Err`: the worker is stopping.
async fn held(
    route: &RouteRuntime,
    until_ms: Option<i64>,
    cancel: &CancellationToken,
) -> Result<(), Stopping> {
    let wait = until_ms.map_or(IDLE_POLL, |until| {
        Duration::from_millis(u64::try_from(until - now_ms()).unwrap_or(0))
    });
    let changed = async {
        match &route.circuit {
            Some(breaker) => breaker.changed().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = cancel.cancelled() => Err(Stopping),
        () = changed => Ok(()),
        () = tokio::time::sleep(wait) => Ok(()),
    }
}

/// Whether the route's Connection lets a delivery go out now; takes the trial of a
/// half-open circuit.
fn admit(route: &RouteRuntime) -> Gate {
    match &route.circuit {
        None => Gate::Go(Pass::free()),
        Some(breaker) => breaker.admit(now_ms()),
    }
}

/// What [`admit`] would answer now, without taking a trial.
fn outlook(route: &RouteRuntime) -> Outlook {
    match &route.circuit {
        None => Outlook::Go { trial: false },
        Some(breaker) => breaker.outlook(now_ms()),
    }
}

/// Refills the buffer if needed and starts delivering its next task.
async fn next_step(
    engine: &Arc<Engine>,
    route: &Arc<RouteRuntime>,
    slots: &Arc<Semaphore>,
    tracker: &TaskTracker,
    cancel: &CancellationToken,
    prefetch: &mut Prefetch,
) -> Step {
    // An open circuit: nothing is leased, what is buffered goes back.
    let trial = match outlook(route) {
        Outlook::Go { trial } => trial,
        Outlook::Wait { until_ms } => return hold(engine, route, prefetch, until_ms).await,
    };
    let filled = if trial {
        // A trial is one task: lease no more than that.
        prefetch.fill(engine, route, 1).await
    } else {
        match prefetch.settle(false).await {
            Ok(()) => {
                prefetch.top_up(engine, route);
                // Nothing buffered: wait for the lease under way.
                prefetch.settle(prefetch.buffer.is_empty()).await
            }
            failed => failed,
        }
    };
    if filled.is_err() {
        return Step::LeaseFailed;
    }
    let Some(task) = prefetch.take() else {
        return Step::Empty;
    };
    match dispatch(engine, route, slots, tracker, cancel, task, prefetch).await {
        Ok(()) => Step::Dispatched,
        Err(Halt::Stopping) => Step::Stopped,
        Err(Halt::Held(until_ms)) => hold(engine, route, prefetch, until_ms).await,
    }
}

/// The circuit holds deliveries back: the buffered tasks go back to `pending` without
/// spending an attempt, with a line in their logs.
async fn hold(
    engine: &Engine,
    route: &RouteRuntime,
    prefetch: &mut Prefetch,
    until_ms: Option<i64>,
) -> Step {
    let state = until_ms
        .and_then(crate::status_report::rfc3339)
        .map_or_else(
            || "half-open, its trial delivery out".to_owned(),
            |t| format!("open until {t}"),
        );
    let note = format!(
        "Not attempted: the circuit of Connection `{}` is {state}; back to pending without spending an attempt",
        route.compiled.spec.outgoing.connection
    );
    prefetch.release(engine, Some(&note)).await;
    Step::Held(until_ms)
}

/// Tasks leased ahead of free delivery slots, so that leasing overlaps delivery instead
/// of sitting between deliveries: the next lease runs in the background while the
/// buffer's tasks are dispatched. How many tasks it holds follows the pace at which the
/// slots take them (see [`Prefetch::resize`]): a buffered task waits for a free slot
/// while its lease runs, so the buffer must be dispatched in far less than a lease.
/// What it holds is also bounded by memory, [`MAX_BUFFER_BYTES`].
struct Prefetch {
    /// The tasks, each with the memory it holds ([`task_bytes`]).
    buffer: VecDeque<(LeasedTask, usize)>,
    /// Memory the buffered tasks hold.
    bytes: usize,
    /// The largest task of the last lease, or half of the one before if that was larger
    /// (`0`: no task leased yet): the size the next lease is planned with.
    largest: usize,
    /// Tasks to hold after a refill.
    target: usize,
    /// The fewest: about two rounds of deliveries of every slot.
    floor: usize,
    /// The last lease found fewer tasks than asked: do not ask again until woken.
    drained: bool,
    /// The lease under way, if any.
    leasing: Option<Leasing>,
    /// Tasks taken from the buffer since `since`: the pace of the slots.
    taken: usize,
    since: Instant,
}

/// A lease running in the background; `None` when it failed (it logged why).
struct Leasing {
    handle: JoinHandle<Option<Vec<LeasedTask>>>,
    wanted: usize,
}

/// The lease did not answer (logged where it failed).
struct LeaseFailed;

/// The worker is stopping.
struct Stopping;

/// Why a buffered task was not dispatched.
enum Halt {
    /// The worker is stopping; the buffer went back to the queue.
    Stopping,
    /// The circuit holds deliveries back (see [`Step::Held`]); the task is back in the
    /// buffer.
    Held(Option<i64>),
}

impl Prefetch {
    fn new(floor: usize) -> Self {
        Self {
            buffer: VecDeque::with_capacity(floor),
            bytes: 0,
            largest: 0,
            target: floor,
            floor,
            drained: false,
            leasing: None,
            taken: 0,
            since: Instant::now(),
        }
    }

    /// The next task of the buffer.
    fn take(&mut self) -> Option<LeasedTask> {
        let (task, bytes) = self.buffer.pop_front()?;
        self.bytes -= bytes;
        self.taken += 1;
        Some(task)
    }

    /// Puts a task taken from the buffer back at its head.
    fn put_back(&mut self, task: LeasedTask) {
        let bytes = task_bytes(&task);
        self.bytes += bytes;
        self.buffer.push_front((task, bytes));
    }

    /// Tasks leased in: into the buffer, and the size the next lease is planned with.
    fn extend(&mut self, tasks: Vec<LeasedTask>) {
        if tasks.is_empty() {
            return;
        }
        let mut largest = 0;
        for task in tasks {
            let bytes = task_bytes(&task);
            largest = largest.max(bytes);
            self.bytes += bytes;
            self.buffer.push_back((task, bytes));
        }
        // One large item among small ones keeps the next leases small for a while.
        self.largest = largest.max(self.largest / 2);
    }

    /// Tasks the next lease may bring: what is missing to `target`, as many as fit in
    /// [`MAX_BUFFER_BYTES`] at the size of the largest recent task (at least one), and
    /// [`SIZING_LEASE`] while no size is known.
    fn wanted(&self, target: usize) -> usize {
        let missing = target.saturating_sub(self.buffer.len());
        let fit = match self.largest {
            0 => SIZING_LEASE,
            largest => (MAX_BUFFER_BYTES.saturating_sub(self.bytes) / largest).max(1),
        };
        missing.min(fit)
    }

    /// Sizes the next lease to what the slots take in [`BUFFER_HORIZON`] at the pace
    /// seen since the last lease, between [`Prefetch::floor`] and [`MAX_BUFFER`]. A
    /// backlog behind a busy queue writer (bulk intake on SQLite's single writer) then
    /// comes in a few large leases instead of many small ones, each waiting for the
    /// writer; a slow receiver keeps the buffer at two rounds.
    fn resize(&mut self) {
        self.target = paced_target(self.taken, self.since.elapsed(), self.floor);
        self.taken = 0;
        self.since = Instant::now();
    }

    /// Starts a lease in the background when the buffer is down to half its target (in
    /// tasks and in memory), unless one is under way or the queue was found drained
    /// since the last wake-up.
    fn top_up(&mut self, engine: &Engine, route: &RouteRuntime) {
        if self.drained
            || self.leasing.is_some()
            || self.buffer.len() > self.target / 2
            || self.bytes > MAX_BUFFER_BYTES / 2
        {
            return;
        }
        self.resize();
        // The pace may have dropped below what is buffered.
        let wanted = self.wanted(self.target);
        if wanted > 0 {
            self.start(engine, route, wanted);
        }
    }

    fn start(&mut self, engine: &Engine, route: &RouteRuntime, wanted: usize) {
        // Through the group commit: the lease runs in its next transaction.
        let committer = engine.committer.clone();
        let key = route.key.clone();
        let limit = u32::try_from(wanted).unwrap_or(u32::MAX);
        let handle = tokio::spawn(async move {
            match committer.lease(key.clone(), limit).await {
                Ok(tasks) => Some(tasks),
                Err(error) => {
                    tracing::error!(namespace = %key.namespace, route = %key.route, error = %error, "Cannot lease tasks");
                    None
                }
            }
        });
        self.leasing = Some(Leasing { handle, wanted });
    }

    /// Takes in the lease under way: once it is over, or (`wait`) waiting for it.
    async fn settle(&mut self, wait: bool) -> Result<(), LeaseFailed> {
        let Some(leasing) = self
            .leasing
            .take_if(|leasing| wait || leasing.handle.is_finished())
        else {
            return Ok(());
        };
        match leasing.handle.await {
            Ok(Some(tasks)) => {
                self.drained = tasks.len() < leasing.wanted;
                self.extend(tasks);
                Ok(())
            }
            Ok(None) => Err(LeaseFailed),
            Err(error) => {
                tracing::error!(error = %error, "A lease of tasks did not finish; they run again when their leases expire");
                Err(LeaseFailed)
            }
        }
    }

    /// At least one task in the buffer if the queue has one due (up to `wanted` when it
    /// has to lease now), waiting for the lease.
    async fn fill(
        &mut self,
        engine: &Engine,
        route: &RouteRuntime,
        wanted: usize,
    ) -> Result<(), LeaseFailed> {
        self.settle(true).await?;
        if self.buffer.is_empty() && !self.drained {
            self.start(engine, route, self.wanted(wanted));
            self.settle(true).await?;
        }
        Ok(())
    }

    /// Hands the buffered tasks (and those of a lease under way) back to the queue
    /// undelivered (the worker stops, or the circuit opened), with `note` in their logs.
    async fn release(&mut self, engine: &Engine, note: Option<&str>) {
        // A failed lease leased nothing to hand back.
        let _ = self.settle(true).await;
        if self.buffer.is_empty() {
            return;
        }
        self.bytes = 0;
        let released: Vec<Completion> = self
            .buffer
            .drain(..)
            .map(|(task, _)| Completion {
                id: task.id,
                route: task.route,
                lease_token: task.lease_token,
                outcome: Outcome::Released,
                log: note.map(LogLine::now).into_iter().collect(),
            })
            .collect();
        if let Err(error) = engine.committer.complete(released).await {
            tracing::warn!(error = %error, "Cannot hand back leased tasks; they run again when their leases expire");
        }
    }
}

/// Tasks to hold after a refill: what the slots take in [`BUFFER_HORIZON`] when they
/// took `taken` tasks in `elapsed`, at least `floor`, at most [`MAX_BUFFER`] (or `floor`).
fn paced_target(taken: usize, elapsed: Duration, floor: usize) -> usize {
    let per_second = taken as f64 / elapsed.as_secs_f64().max(1e-3);
    let paced = (per_second * BUFFER_HORIZON.as_secs_f64()) as usize;
    paced.clamp(floor, MAX_BUFFER.max(floor))
}

/// About the memory a leased task holds, in bytes: its item's stored text (a buffered
/// task is not read into values until its attempt) and its identifiers.
fn task_bytes(task: &LeasedTask) -> usize {
    size_of::<LeasedTask>()
        + task.item.text().len()
        + task.id.len()
        + task.lease_token.len()
        + task.trace.as_ref().map_or(0, String::len)
}

/// Waits for a free slot and starts delivering `task` if the Connection's circuit lets
/// it. When the worker stops meanwhile, the task and the rest of the buffer go back to
/// the queue.
async fn dispatch(
    engine: &Arc<Engine>,
    route: &Arc<RouteRuntime>,
    slots: &Arc<Semaphore>,
    tracker: &TaskTracker,
    cancel: &CancellationToken,
    task: LeasedTask,
    prefetch: &mut Prefetch,
) -> Result<(), Halt> {
    let permit = tokio::select! {
        () = cancel.cancelled() => None,
        permit = slots.clone().acquire_owned() => permit.ok(),
    };
    let Some(permit) = permit else {
        prefetch.put_back(task);
        prefetch.release(engine, None).await;
        return Err(Halt::Stopping);
    };
    // Asked once the slot is free: the delivery that held it may have opened the circuit.
    let pass = match admit(route) {
        Gate::Go(pass) => pass,
        Gate::Wait { until_ms } => {
            prefetch.put_back(task);
            return Err(Halt::Held(until_ms));
        }
    };
    let engine = engine.clone();
    let route = route.clone();
    let batch_size = route.sink.batch_size();
    if batch_size > 1 {
        // A sink that takes batches gets the tasks already leased, up to its size: no
        // waiting for more, so a lone task goes out as fast as before. A circuit's trial
        // is one task.
        let mut tasks = vec![task];
        if !pass.is_trial() {
            fill_batch(&engine, &route, prefetch, &mut tasks, cancel).await;
        }
        tracker.spawn(async move {
            let attempted = attempt_batch(&engine, &route, tasks, pass).await;
            drop(permit);
            record(&engine, &route, attempted).await;
        });
    } else {
        tracker.spawn(async move {
            let attempted = attempt(&engine, &route, task, pass).await;
            // The slot frees as soon as the receiver answered; the outcome is committed
            // with others in the next group commit. Until then the task stays
            // `processing` under our lease, so nobody else takes it.
            drop(permit);
            record(&engine, &route, vec![attempted]).await;
        });
    }
    Ok(())
}

/// Adds buffered tasks to a batch, up to the sink's batch size. A sink with a batch
/// wait (`maxWaitMs`) leases what comes in meanwhile until the batch is full or the wait
/// is over; without one, the batch is what is already leased.
async fn fill_batch(
    engine: &Engine,
    route: &RouteRuntime,
    prefetch: &mut Prefetch,
    tasks: &mut Vec<LeasedTask>,
    cancel: &CancellationToken,
) {
    let size = route.sink.batch_size();
    let deadline = tokio::time::Instant::now() + route.sink.batch_wait();
    let wakeup = engine.wakeup(&route.key);
    while tasks.len() < size {
        if let Some(next) = prefetch.take() {
            tasks.push(next);
            continue;
        }
        if tokio::time::Instant::now() >= deadline {
            return;
        }
        prefetch.drained = false;
        prefetch.top_up(engine, route);
        if prefetch.settle(true).await.is_err() {
            return;
        }
        if prefetch.buffer.is_empty() {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = wakeup.notified() => {}
                () = tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + BATCH_POLL)) => {}
            }
        }
    }
}

/// Commits the outcomes of attempts. Tasks triggered for other routes are committed in
/// the same transaction as the outcome of the task that triggered them: both or neither.
/// The tasks that are no longer undelivered make room for paced intake at once.
async fn record(engine: &Engine, route: &RouteRuntime, attempted: Vec<Attempted>) {
    let finished = attempted
        .iter()
        .filter(|a| {
            !matches!(
                a.completion.outcome,
                Outcome::Retry { .. } | Outcome::Released
            )
        })
        .count();
    let mut completions = Vec::with_capacity(attempted.len());
    let mut new_tasks = Vec::new();
    let mut follow_ups = Vec::new();
    for Attempted {
        completion,
        follow_ups: triggered,
    } in attempted
    {
        completions.push(completion);
        for mut follow_up in triggered {
            new_tasks.append(&mut follow_up.prepared.tasks);
            follow_ups.push(follow_up);
        }
    }
    match engine.committer.submit(new_tasks, completions).await {
        Ok(()) => {
            engine.admission.finished(&route.key, finished as u64);
            for follow_up in follow_ups {
                follow_up.prepared.count(None);
                engine
                    .committed(&follow_up.prepared.routes, follow_up.prepared.deferred)
                    .await;
            }
        }
        Err(error) => {
            tracing::error!(error = %error, "Cannot record a delivery outcome; the task runs again when its lease expires");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::Timelike;
    use serde_json::Value;

    use super::*;

    #[test]
    fn the_buffer_follows_the_pace_of_the_slots_within_its_bounds() {
        let second = Duration::from_secs(1);
        // A slow receiver: two rounds, as before.
        assert_eq!(paced_target(10, second, 128), 128);
        // 2,000 tasks a second: what they take in 250 ms.
        assert_eq!(paced_target(2_000, second, 128), 500);
        // Fast slots, or a burst taken at once: never more than MAX_BUFFER.
        assert_eq!(paced_target(100_000, second, 128), MAX_BUFFER);
        assert_eq!(paced_target(500, Duration::ZERO, 128), MAX_BUFFER);
        // A batch sink whose two rounds exceed MAX_BUFFER keeps them.
        assert_eq!(
            paced_target(100_000, second, 2 * MAX_BUFFER),
            2 * MAX_BUFFER
        );
        // Idle: no tasks taken.
        assert_eq!(paced_target(0, Duration::ZERO, 32), 32);
    }

    fn task(index: usize, item: Value) -> LeasedTask {
        LeasedTask {
            id: format!("task-{index}"),
            route: crate::queue::RouteKey {
                namespace: "default".into(),
                route: "items".into(),
            },
            item: crate::queue::StoredItem::of(&item),
            attempts: 1,
            lease_token: "token".into(),
            created_at_ms: 0,
            trace: None,
        }
    }

    /// Items of about `bytes` each.
    fn tasks(count: usize, bytes: usize) -> Vec<LeasedTask> {
        (0..count)
            .map(|i| task(i, serde_json::json!({"id": i, "text": "x".repeat(bytes)})))
            .collect()
    }

    #[test]
    fn leases_of_large_items_fit_in_the_memory_bound() {
        let mut prefetch = Prefetch::new(128);
        // No size known yet: a small first lease.
        assert_eq!(prefetch.wanted(MAX_BUFFER), SIZING_LEASE);
        // Small items (the bench's orders): the task count is what bounds the lease.
        prefetch.extend(tasks(SIZING_LEASE, 300));
        assert_eq!(prefetch.wanted(MAX_BUFFER), MAX_BUFFER - SIZING_LEASE);
        // Items of 1 MiB: a lease brings what fits in the rest of MAX_BUFFER_BYTES,
        // however many the pace would take.
        let mib = 1 << 20;
        while prefetch.take().is_some() {}
        assert_eq!(prefetch.bytes, 0);
        prefetch.extend(tasks(2, mib));
        let wanted = prefetch.wanted(MAX_BUFFER);
        assert!(wanted >= 1 && wanted <= MAX_BUFFER_BYTES / mib, "{wanted}");
        prefetch.extend(tasks(wanted, mib));
        assert!(
            prefetch.bytes <= MAX_BUFFER_BYTES + 2 * task_bytes(&tasks(1, mib)[0]),
            "{} bytes buffered",
            prefetch.bytes
        );
        // Full: no more than one task at a time (a lease is never for nothing).
        assert_eq!(prefetch.wanted(MAX_BUFFER), 1);
        // An item as large as the whole bound still goes through, one at a time.
        while prefetch.take().is_some() {}
        prefetch.extend(tasks(1, MAX_BUFFER_BYTES));
        assert_eq!(prefetch.wanted(MAX_BUFFER), 1);
        // Back to small items: the large one's weight halves with every lease.
        prefetch.take();
        let mut leases = 0;
        while prefetch.wanted(MAX_BUFFER) < MAX_BUFFER {
            let wanted = prefetch.wanted(MAX_BUFFER);
            prefetch.extend(tasks(1, 300));
            while prefetch.take().is_some() {}
            leases += 1;
            assert!(leases < 32, "still {wanted} after {leases} leases");
        }
        // Taking and putting back keeps the count of bytes.
        prefetch.extend(tasks(3, 1_000));
        let held = prefetch.bytes;
        let first = prefetch.take().unwrap_or_else(|| panic!("a task"));
        assert!(prefetch.bytes < held);
        prefetch.put_back(first);
        assert_eq!(prefetch.bytes, held);
    }

    #[test]
    fn the_next_tick_falls_on_the_whole_second() {
        let every_second = croner::Cron::from_str("* * * * * *").unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..5 {
            let wait = until_next(&every_second).unwrap_or_default();
            let lands_at =
                chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            assert!(wait <= Duration::from_secs(1), "{wait:?}");
            assert!(
                lands_at.nanosecond() < 50_000_000 || lands_at.nanosecond() > 950_000_000,
                "{lands_at}"
            );
        }
    }
}
