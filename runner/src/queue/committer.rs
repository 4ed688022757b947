//! Group commit: many callers, one transaction.
//!
//! Callers hand their new tasks or completions to a single writer task and wait. The
//! writer takes everything that has queued up while the previous transaction was being
//! flushed, commits it as one transaction, and answers every caller. Under load, one
//! fsync covers hundreds of items; when idle, an item is committed at once.
//!
//! Delivery workers lease through it too ([`Committer::lease`]): their leases run at
//! the end of the same transaction, after its new tasks and completions. On SQLite's
//! single writer connection a lease then costs no transaction of its own, and a worker
//! waiting for work gets the tasks that the transaction queues. Leases come on a
//! channel of their own and join the very next transaction: behind a backlog of bulk
//! intake requests (several transactions' worth), a lease would otherwise wait for all
//! of them, and delivery would fall behind.
//!
//! A failed transaction fails every caller waiting on it; nobody is told "committed"
//! for anything the store did not confirm. From then on the committer counts as failing
//! ([`Committer::failing`]: the runner's readiness, a metric and a log line say why)
//! until a commit succeeds again. While nobody writes, it probes the store every
//! [`PROBE_INTERVAL`], so a runner that its readiness probe took out of service comes
//! back by itself once the fault clears.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{
    Completion, LeaseAsk, LeasedTask, NewTask, PollClaim, QueueError, QueueStore, RouteKey,
    StorageFault, StoragePut, WriteBatch,
};
use crate::metrics::events::{self, CommitFailureLog};

/// Upper bound of items per transaction. Short transactions keep the queue fair: on
/// SQLite a lease waits for the one writer connection, and on PostgreSQL a long
/// transaction holds back the clean-up of the index entries every lease walks over.
const MAX_BATCH_ITEMS: usize = 512;
/// While commits fail and nobody writes, how often the store is probed.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// While commits keep failing, how often the log says so again.
const REPEAT_LOG: Duration = Duration::from_secs(10);

struct Request {
    new_tasks: Vec<NewTask>,
    completions: Vec<Completion>,
    /// A poll's claim: such a request is committed in a transaction of its own, so that
    /// losing the claim fails only that poll's write.
    claim: Option<PollClaim>,
    /// Storage entries committed with the tasks (a poll's cursor).
    storage: Vec<StoragePut>,
    /// A delivery worker's lease, run at the end of the transaction.
    lease: Option<LeaseAsk>,
    /// The outcome; the leased tasks when `lease` asked for some, else none.
    done: Done,
}

/// What a request is answered with: the leased tasks when it asked for a lease, else none.
type Reply = Result<Vec<LeasedTask>, Arc<QueueError>>;
type Done = oneshot::Sender<Reply>;

/// Where a request's outcome arrives.
type Answer = oneshot::Receiver<Reply>;

impl Request {
    fn new(
        new_tasks: Vec<NewTask>,
        completions: Vec<Completion>,
        claim: Option<PollClaim>,
        storage: Vec<StoragePut>,
        lease: Option<LeaseAsk>,
    ) -> (Self, Answer) {
        let (done, answer) = oneshot::channel();
        let request = Self {
            new_tasks,
            completions,
            claim,
            storage,
            lease,
            done,
        };
        (request, answer)
    }
}

/// Commits are failing: why, and since when.
#[derive(Debug, Clone)]
pub struct CommitFailure {
    pub fault: StorageFault,
    /// The last error, for humans (it goes through the redactor before it is shown).
    pub message: String,
    pub since: Instant,
    /// Failed transactions and probes so far.
    pub failures: u64,
}

#[derive(Default)]
struct Health {
    /// The failure, and when the log last mentioned it.
    failing: Mutex<Option<(CommitFailure, Instant)>>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(CommitFailure, Instant)>> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed(&self, error: &QueueError, callers: usize) {
        let fault = error.fault();
        let now = Instant::now();
        let mut failing = self.lock();
        let log = match &mut *failing {
            None => {
                *failing = Some((
                    CommitFailure {
                        fault,
                        message: error.to_string(),
                        since: now,
                        failures: 1,
                    },
                    now,
                ));
                CommitFailureLog::First
            }
            Some((failure, logged)) => {
                failure.fault = fault;
                failure.message = error.to_string();
                failure.failures += 1;
                if now.duration_since(*logged) >= REPEAT_LOG {
                    *logged = now;
                    CommitFailureLog::Repeat {
                        failures: failure.failures,
                        since: now.duration_since(failure.since),
                    }
                } else {
                    CommitFailureLog::Quiet
                }
            }
        };
        drop(failing);
        events::queue_commit_failed(fault, error, callers, log);
    }

    fn succeeded(&self) {
        if let Some((failure, _)) = self.lock().take() {
            events::queue_commits_recovered(failure.failures, failure.since.elapsed());
        }
    }

    fn is_failing(&self) -> bool {
        self.lock().is_some()
    }
}

/// The handle callers write through. Cheap to clone.
#[derive(Clone)]
pub struct Committer {
    requests: mpsc::Sender<Request>,
    /// Lease requests: ahead of `requests` (see the module's documentation).
    leases: mpsc::Sender<Request>,
    health: Arc<Health>,
}

impl Committer {
    /// Starts the writer task over `store`. It stops when every handle is dropped, after
    /// committing what it was given.
    pub fn start(store: Arc<dyn QueueStore>) -> Self {
        let (requests, receiver) = mpsc::channel(8_192);
        let (leases, lease_receiver) = mpsc::channel(1_024);
        let health = Arc::new(Health::default());
        let channels = Channels {
            requests: receiver,
            leases: lease_receiver,
        };
        tokio::spawn(write_loop(store, channels, health.clone()));
        Self {
            requests,
            leases,
            health,
        }
    }

    /// Commits new tasks durably; returns once they are on disk.
    pub async fn enqueue(&self, new_tasks: Vec<NewTask>) -> Result<(), Arc<QueueError>> {
        self.submit(new_tasks, Vec::new()).await
    }

    /// Commits the outcome of attempts durably.
    pub async fn complete(&self, completions: Vec<Completion>) -> Result<(), Arc<QueueError>> {
        self.submit(Vec::new(), completions).await
    }

    /// Commits new tasks and completions together: both or neither (e.g. a delivered
    /// task and the tasks its after-delivery steps queue for other routes).
    pub async fn submit(
        &self,
        new_tasks: Vec<NewTask>,
        completions: Vec<Completion>,
    ) -> Result<(), Arc<QueueError>> {
        if new_tasks.is_empty() && completions.is_empty() {
            return Ok(());
        }
        self.send(Request::new(new_tasks, completions, None, Vec::new(), None))
            .await
            .map(drop)
    }

    /// Leases up to `limit` of `route`'s due tasks in the next transaction (see the
    /// module's documentation): they become `processing` with one more attempt.
    pub async fn lease(
        &self,
        route: RouteKey,
        limit: u32,
    ) -> Result<Vec<LeasedTask>, Arc<QueueError>> {
        let ask = LeaseAsk { route, limit };
        let request = Request::new(Vec::new(), Vec::new(), None, Vec::new(), Some(ask));
        Self::send_on(&self.leases, request).await
    }

    /// Commits a poll's new tasks and `storage` (its advanced cursor) if, inside the
    /// same transaction, `claim` is still held (else [`QueueError::ClaimLost`] and
    /// nothing is written). `None`: no claim to check.
    pub async fn enqueue_claimed(
        &self,
        new_tasks: Vec<NewTask>,
        claim: Option<&PollClaim>,
        storage: Vec<StoragePut>,
    ) -> Result<(), Arc<QueueError>> {
        if new_tasks.is_empty() && storage.is_empty() {
            return Ok(());
        }
        self.send(Request::new(
            new_tasks,
            Vec::new(),
            claim.cloned(),
            storage,
            None,
        ))
        .await
        .map(drop)
    }

    /// Sends a request built by [`Request::new`] and waits for its answer.
    async fn send(&self, request: (Request, Answer)) -> Reply {
        Self::send_on(&self.requests, request).await
    }

    async fn send_on(
        channel: &mpsc::Sender<Request>,
        (request, answer): (Request, Answer),
    ) -> Reply {
        channel
            .send(request)
            .await
            .map_err(|_| Arc::new(QueueError::WriterStopped))?;
        answer
            .await
            .map_err(|_| Arc::new(QueueError::WriterStopped))?
    }

    /// `Some` while commits fail: since the last failed transaction, until one succeeds.
    pub fn failing(&self) -> Option<CommitFailure> {
        self.health
            .lock()
            .as_ref()
            .map(|(failure, _)| failure.clone())
    }
}

/// The requests of one transaction.
#[derive(Default)]
struct Gathered {
    batch: WriteBatch,
    leases: Vec<LeaseAsk>,
    /// Each caller, with the index of its lease in `leases` if it asked for one.
    waiting: Vec<(Done, Option<usize>)>,
}

impl Gathered {
    fn add(&mut self, request: Request) {
        self.batch.new_tasks.extend(request.new_tasks);
        self.batch.completions.extend(request.completions);
        self.batch.storage.extend(request.storage);
        self.batch.claim = request.claim;
        let lease = request.lease.map(|ask| {
            self.leases.push(ask);
            self.leases.len() - 1
        });
        self.waiting.push((request.done, lease));
    }

    /// Tasks written and leases asked for: what `MAX_BATCH_ITEMS` bounds.
    fn items(&self) -> usize {
        self.batch.new_tasks.len() + self.batch.completions.len() + self.leases.len()
    }
}

/// The writer's two inboxes.
struct Channels {
    requests: mpsc::Receiver<Request>,
    leases: mpsc::Receiver<Request>,
}

impl Channels {
    /// The next request, a lease first. `None` once every handle is gone.
    async fn recv(&mut self) -> Option<Request> {
        tokio::select! {
            biased;
            Some(lease) = self.leases.recv() => Some(lease),
            request = self.requests.recv() => request,
        }
    }
}

async fn write_loop(store: Arc<dyn QueueStore>, mut channels: Channels, health: Arc<Health>) {
    // A claimed request that arrived while a batch was being gathered: it goes next,
    // alone.
    let mut held: Option<Request> = None;
    loop {
        let first = if let Some(request) = held.take() {
            request
        } else if health.is_failing() {
            match tokio::time::timeout(PROBE_INTERVAL, channels.recv()).await {
                Ok(Some(request)) => request,
                Ok(None) => return,
                Err(_idle) => {
                    match store.probe().await {
                        Ok(()) => health.succeeded(),
                        Err(error) => health.failed(&error, 0),
                    }
                    continue;
                }
            }
        } else {
            match channels.recv().await {
                Some(request) => request,
                None => return,
            }
        };
        let mut gathered = Gathered::default();
        gathered.add(first);
        while gathered.batch.claim.is_none() && gathered.items() < MAX_BATCH_ITEMS {
            match channels.requests.try_recv() {
                Ok(request) if request.claim.is_some() => {
                    held = Some(request);
                    break;
                }
                Ok(request) => gathered.add(request),
                Err(_) => break,
            }
        }
        // Every lease asked for so far joins this transaction, unless it checks a
        // poll's claim (losing the claim would fail them too).
        while gathered.batch.claim.is_none()
            && let Ok(lease) = channels.leases.try_recv()
        {
            gathered.add(lease);
        }
        let Gathered {
            batch,
            leases,
            waiting,
        } = gathered;
        let result = store
            .write_and_lease(batch, &leases, super::now_ms())
            .await
            .map_err(Arc::new);
        match &result {
            Ok(_) => health.succeeded(),
            // Another runner owns the poll now: the store is fine.
            Err(error) if matches!(**error, QueueError::ClaimLost { .. }) => {}
            Err(error) => health.failed(error, waiting.len()),
        }
        let mut leased: Vec<Option<Result<Vec<LeasedTask>, QueueError>>> = match result {
            Ok(leased) => leased.into_iter().map(Some).collect(),
            Err(error) => {
                for (done, _) in waiting {
                    let _ = done.send(Err(error.clone()));
                }
                continue;
            }
        };
        for (done, lease) in waiting {
            let answer = match lease.and_then(|index| leased.get_mut(index)?.take()) {
                Some(tasks) => tasks.map_err(Arc::new),
                None => Ok(Vec::new()),
            };
            let _ = done.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::queue::SqlQueue;

    fn route() -> RouteKey {
        RouteKey {
            namespace: "shop".into(),
            route: "orders".into(),
        }
    }

    fn tasks(n: usize) -> Vec<NewTask> {
        (0..n)
            .map(|i| NewTask {
                id: uuid::Uuid::now_v7().to_string(),
                route: route(),
                item: serde_json::json!({"n": i}),
                source: "webhook",
                log: Vec::new(),
                failure: None,
                provenance: None,
                trace: None,
                stored: None,
            })
            .collect()
    }

    async fn committer() -> (tempfile::TempDir, Committer) {
        let (dir, queue) = SqlQueue::temporary(Duration::from_secs(60)).await;
        (dir, Committer::start(Arc::new(queue)))
    }

    /// On this single-threaded runtime both requests are queued before the writer task
    /// runs, so they share one transaction: the lease gets the tasks committed with it.
    #[tokio::test]
    async fn a_lease_sent_with_new_tasks_gets_them_from_the_same_commit() {
        let (_dir, committer) = committer().await;
        let new = tasks(3);
        let mut ids: Vec<String> = new.iter().map(|task| task.id.clone()).collect();
        ids.sort();
        let (enqueued, leased) = tokio::join!(committer.enqueue(new), committer.lease(route(), 10));
        enqueued.expect("enqueue");
        let leased = leased.expect("lease");
        let leased_ids: Vec<String> = leased.iter().map(|task| task.id.clone()).collect();
        assert_eq!(leased_ids, ids);
        assert!(leased.iter().all(|task| task.attempts == 1));
        assert!(
            committer
                .lease(route(), 10)
                .await
                .expect("lease again")
                .is_empty(),
            "leased tasks are not handed out twice"
        );
    }

    /// Two leases in one transaction split the due tasks between them, each under its
    /// own token; a handed-back task is due again for a lease in the same transaction.
    #[tokio::test]
    async fn leases_in_one_transaction_share_out_the_tasks() {
        let (_dir, committer) = committer().await;
        committer.enqueue(tasks(3)).await.expect("enqueue");
        let (first, second) =
            tokio::join!(committer.lease(route(), 2), committer.lease(route(), 2));
        let (first, second) = (first.expect("lease"), second.expect("lease"));
        assert_eq!((first.len(), second.len()), (2, 1));
        assert_ne!(first[0].lease_token, second[0].lease_token);
        let back = Completion::of(&second[0], crate::queue::Outcome::Released);
        let (released, again) =
            tokio::join!(committer.complete(vec![back]), committer.lease(route(), 5));
        released.expect("release");
        let again = again.expect("lease");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, second[0].id);
        assert_eq!(again[0].attempts, 1, "a handed-back attempt does not count");
    }
}
