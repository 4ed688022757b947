//! The queue against a trivial in-memory model: random sequences of enqueue, lease,
//! complete (with current or stale leases, `waiting` included), leases in the same
//! transaction as new tasks or a completion (the group commit's), clock jumps past lease
//! expiry and wait deadlines, acknowledgements (by id and by correlation value), wait
//! timeouts, operator actions (one task, or every failed task of the route), retention
//! and restarts. After every step the queue's counts (kept by the queue per route and
//! state, read by the API, the gauges and the admission check) equal the model's, no task
//! is lost, and every lease hands out only tasks the model says are ready. On SQLite and,
//! when it is reachable, PostgreSQL.

// A test reports failure by panicking with a message.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use switchyard_runner::queue::{
    Ack, AckOutcome, Completion, LeaseAsk, LeasedTask, NewTask, OnTimeout, Outcome, QueueStore,
    RouteKey, SqlQueue, StateCounts, TaskAction, TaskState, WriteBatch,
};

mod common;

const LEASE: Duration = Duration::from_secs(60);
/// The test clock runs a day ahead of the wall clock, so tasks the queue stamps with the
/// wall clock are always due.
const CLOCK_START_OFFSET_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
enum Op {
    Enqueue(usize),
    /// Leases up to `limit` tasks; `with_new` tasks are queued first, in the lease's
    /// transaction unless `alone` (then in one of their own, and the lease alone).
    Lease {
        limit: u32,
        with_new: usize,
        alone: bool,
    },
    /// Completes a leased task; with `lease`, in the transaction that then leases up to
    /// that many tasks.
    Complete {
        pick: usize,
        outcome: u8,
        stale: bool,
        lease: Option<u32>,
    },
    Advance(i64),
    Restart,
    Retry(usize),
    Discard(usize),
    Ack {
        pick: usize,
        done: bool,
        by_correlation: bool,
    },
    Expire {
        retry: bool,
    },
    RetryFailed,
    /// Retention of the finished states picked by the bits of the mask.
    Purge(u8),
}

/// How often a lease looks for expired leases, at most (the queue's `TAKE_BACK_EVERY`,
/// shorter than a quarter of `LEASE`).
const TAKE_BACK_EVERY_MS: i64 = 1_000;
/// How long a task waits for its acknowledgement in these runs.
const WAIT_MS: i64 = 10_000;
/// Attempts a route allows, for timeouts that send again.
const MAX_ATTEMPTS: u32 = 2;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1usize..5).prop_map(Op::Enqueue),
        3 => (1u32..5, 0usize..3, proptest::bool::ANY).prop_map(|(limit, with_new, alone)| Op::Lease { limit, with_new, alone }),
        4 => (0usize..16, 0u8..6, proptest::bool::weighted(0.15), proptest::option::weighted(0.3, 1u32..4)).prop_map(|(pick, outcome, stale, lease)| Op::Complete { pick, outcome, stale, lease }),
        1 => (0i64..130_000).prop_map(Op::Advance),
        1 => Just(Op::Restart),
        1 => (0usize..32).prop_map(Op::Retry),
        1 => (0usize..32).prop_map(Op::Discard),
        2 => (0usize..32, proptest::bool::ANY, proptest::bool::ANY).prop_map(|(pick, done, by_correlation)| Op::Ack { pick, done, by_correlation }),
        1 => proptest::bool::ANY.prop_map(|retry| Op::Expire { retry }),
        1 => Just(Op::RetryFailed),
        1 => (1u8..8).prop_map(Op::Purge),
    ]
}

#[derive(Debug, Clone)]
struct ModelTask {
    state: TaskState,
    lease_until: i64,
    lease_token: Option<String>,
    next_at: i64,
    attempts: i64,
    correlation: Option<String>,
}

fn route() -> RouteKey {
    RouteKey {
        namespace: "default".into(),
        route: "r".into(),
    }
}

struct Harness {
    url: String,
    /// An embedded (SQLite) queue takes every lease back when it is opened.
    reclaims_at_start: bool,
    store: Arc<SqlQueue>,
    model: BTreeMap<String, ModelTask>,
    leased: Vec<LeasedTask>,
    clock: i64,
    /// When a lease last looked for expired leases (`None` since the store opened): the
    /// store looks at most once per `TAKE_BACK_EVERY`.
    taken_back_at: Option<i64>,
}

impl Harness {
    fn counts(&self) -> StateCounts {
        let mut counts = StateCounts::default();
        for task in self.model.values() {
            counts.add(task.state, 1);
        }
        counts
    }

    fn ready(&self, id: &str) -> bool {
        self.model
            .get(id)
            .is_some_and(|t| t.state == TaskState::Pending && t.next_at <= self.clock)
    }

    /// `n` new tasks, in the model as pending and due at `next_at` (0: stamped with the
    /// wall clock, due by the test clock).
    fn new_tasks(&mut self, n: usize, next_at: i64) -> Vec<NewTask> {
        let tasks: Vec<NewTask> = (0..n)
            .map(|i| NewTask {
                id: uuid::Uuid::now_v7().to_string(),
                route: route(),
                item: serde_json::json!({"n": i}),
                source: "webhook",
                log: vec![],
                failure: None,
                provenance: None,
                trace: None,
                stored: None,
            })
            .collect();
        for task in &tasks {
            let model = ModelTask {
                state: TaskState::Pending,
                lease_until: 0,
                lease_token: None,
                next_at,
                attempts: 0,
                correlation: None,
            };
            self.model.insert(task.id.clone(), model);
        }
        tasks
    }

    /// What a lease does first: takes back every expired lease, if it has not looked
    /// in the last `TAKE_BACK_EVERY`. Returns how many tasks are then ready.
    fn take_back(&mut self) -> usize {
        let clock = self.clock;
        if self
            .taken_back_at
            .is_none_or(|at| clock - at >= TAKE_BACK_EVERY_MS)
        {
            self.taken_back_at = Some(clock);
            for task in self.model.values_mut() {
                if task.state == TaskState::Processing && task.lease_until < clock {
                    task.state = TaskState::Pending;
                    task.lease_token = None;
                }
            }
        }
        self.model.keys().filter(|id| self.ready(id)).count()
    }

    /// Commits `batch` (already applied to the model) and leases up to `limit` tasks
    /// in its transaction, at the test clock; returns the leased tasks and how many
    /// were ready.
    async fn lease_in(&mut self, batch: WriteBatch, limit: u32) -> (Vec<LeasedTask>, usize) {
        let ready = self.take_back();
        let ask = LeaseAsk {
            route: route(),
            limit,
        };
        let mut answers = self
            .store
            .write_and_lease(batch, std::slice::from_ref(&ask), self.clock)
            .await
            .expect("write and lease");
        assert_eq!(answers.len(), 1, "one answer per ask");
        let leased = answers.pop().expect("answer").expect("leased tasks");
        (leased, ready)
    }

    /// Checks a lease against the model (only ready tasks, as many as there were up
    /// to `limit`) and records it.
    fn leased_now(&mut self, (leased, ready): (Vec<LeasedTask>, usize), limit: u32) {
        assert_eq!(leased.len(), ready.min(limit as usize), "lease size");
        for task in &leased {
            assert!(
                self.ready(&task.id),
                "leased a task that is not ready: {task:?}"
            );
            let model = self.model.get_mut(&task.id).expect("known task");
            model.state = TaskState::Processing;
            model.attempts += 1;
            assert_eq!(task.attempts, model.attempts, "attempts");
            model.lease_until = self.clock + LEASE.as_millis() as i64;
            model.lease_token = Some(task.lease_token.clone());
        }
        self.leased.extend(leased);
    }

    async fn apply(&mut self, op: Op) {
        match op {
            Op::Enqueue(n) => {
                let tasks = self.new_tasks(n, 0);
                self.store
                    .write(WriteBatch {
                        new_tasks: tasks,
                        completions: vec![],
                        claim: None,
                        storage: Vec::new(),
                    })
                    .await
                    .expect("enqueue");
            }
            Op::Lease {
                limit,
                with_new,
                alone,
            } => {
                let leased = if alone {
                    if with_new > 0 {
                        let tasks = self.new_tasks(with_new, 0);
                        self.store
                            .write(WriteBatch {
                                new_tasks: tasks,
                                ..WriteBatch::default()
                            })
                            .await
                            .expect("enqueue");
                    }
                    let ready = self.take_back();
                    let leased = self
                        .store
                        .lease(&route(), limit, self.clock)
                        .await
                        .expect("lease");
                    (leased, ready)
                } else {
                    // Stamped by the transaction's time, the test clock.
                    let tasks = self.new_tasks(with_new, self.clock);
                    let batch = WriteBatch {
                        new_tasks: tasks,
                        ..WriteBatch::default()
                    };
                    self.lease_in(batch, limit).await
                };
                self.leased_now(leased, limit);
            }
            Op::Complete {
                pick,
                outcome,
                stale,
                lease,
            } => {
                if self.leased.is_empty() {
                    return;
                }
                let task = self.leased.remove(pick % self.leased.len());
                let outcome = match outcome {
                    0 => Outcome::Done,
                    1 => Outcome::Retry {
                        next_attempt_at_ms: self.clock + 5_000,
                        error: "boom".into(),
                    },
                    2 => Outcome::Failed {
                        error: "bad".into(),
                    },
                    4 => Outcome::Released,
                    5 => Outcome::Waiting {
                        correlation: format!("c-{}", &task.id[task.id.len() - 6..]),
                        until_ms: self.clock + WAIT_MS,
                    },
                    _ => Outcome::Skipped,
                };
                let token = if stale {
                    "stale-token".to_owned()
                } else {
                    task.lease_token.clone()
                };
                let model = self.model.get_mut(&task.id).expect("known task");
                // Only the current lease holder's completion counts.
                if model.lease_token.as_deref() == Some(token.as_str())
                    && model.state == TaskState::Processing
                {
                    model.lease_token = None;
                    model.state = match &outcome {
                        Outcome::Done => TaskState::Done,
                        Outcome::Retry {
                            next_attempt_at_ms, ..
                        } => {
                            model.next_at = *next_attempt_at_ms;
                            TaskState::Pending
                        }
                        Outcome::Failed { .. } => TaskState::Failed,
                        Outcome::Skipped => TaskState::Skipped,
                        Outcome::Released => {
                            model.attempts -= 1;
                            TaskState::Pending
                        }
                        Outcome::Waiting {
                            correlation,
                            until_ms,
                        } => {
                            model.next_at = *until_ms;
                            model.correlation = Some(correlation.clone());
                            TaskState::Waiting
                        }
                    };
                }
                let completion = Completion {
                    id: task.id,
                    route: task.route,
                    lease_token: token,
                    outcome,
                    log: vec![],
                };
                let batch = WriteBatch {
                    completions: vec![completion],
                    ..WriteBatch::default()
                };
                match lease {
                    None => self.store.write(batch).await.expect("complete"),
                    Some(limit) => {
                        let leased = self.lease_in(batch, limit).await;
                        self.leased_now(leased, limit);
                    }
                }
            }
            Op::Advance(ms) => self.clock += ms,
            Op::Restart => {
                self.store = Arc::new(
                    SqlQueue::connect(&self.url, LEASE)
                        .await
                        .expect("reconnect"),
                );
                self.taken_back_at = None;
                // The embedded queue takes every lease back at start-up.
                for task in self.model.values_mut() {
                    if self.reclaims_at_start && task.state == TaskState::Processing {
                        task.state = TaskState::Pending;
                        task.lease_token = None;
                    }
                }
            }
            Op::Retry(pick) | Op::Discard(pick) => {
                let Some(id) = self
                    .model
                    .keys()
                    .nth(pick % self.model.len().max(1))
                    .cloned()
                else {
                    return;
                };
                let (action, allowed, target) = if matches!(op, Op::Retry(_)) {
                    (
                        TaskAction::Retry { actor: "t".into() },
                        vec![
                            TaskState::Failed,
                            TaskState::Skipped,
                            TaskState::Pending,
                            TaskState::Waiting,
                        ],
                        TaskState::Pending,
                    )
                } else {
                    (
                        TaskAction::Discard {
                            actor: "t".into(),
                            reason: "r".into(),
                        },
                        vec![TaskState::Pending, TaskState::Failed, TaskState::Waiting],
                        TaskState::Skipped,
                    )
                };
                let result = self.store.act("default", &id, &action).await;
                let model = self.model.get_mut(&id).expect("known task");
                if allowed.contains(&model.state) {
                    assert_eq!(result.expect("allowed action"), Some(target));
                    model.state = target;
                    // A retried task is due now by the wall clock, so due by ours.
                    model.next_at = 0;
                    if target == TaskState::Pending {
                        model.attempts = 0;
                    }
                } else {
                    assert!(
                        result.is_err(),
                        "{op:?} on a {} task must be refused",
                        model.state
                    );
                }
            }
            Op::Ack {
                pick,
                done,
                by_correlation,
            } => self.ack(pick, done, by_correlation).await,
            Op::Expire { retry } => self.expire(retry).await,
            Op::RetryFailed => self.retry_failed().await,
            Op::Purge(mask) => self.purge(mask).await,
        }
        let expected = self.counts();
        let counts = self.store.counts("default").await.expect("counts");
        let actual = counts.first().map(|c| c.counts.clone()).unwrap_or_default();
        assert_eq!(actual, expected, "counts after {op:?}");
        let gauges = self.store.gauges(&[route()]).await.expect("gauges");
        assert_eq!(gauges[0].counts, expected, "gauges after {op:?}");
        assert_eq!(
            gauges[0].oldest_pending_ms.is_some(),
            expected.pending > 0,
            "oldest pending task after {op:?}"
        );
        let undelivered = self
            .store
            .undelivered(&route(), u64::MAX)
            .await
            .expect("undelivered");
        assert_eq!(
            undelivered,
            (expected.pending + expected.processing) as u64,
            "undelivered after {op:?}"
        );
    }

    /// Every failed task of the route is pending again, attempts reset.
    async fn retry_failed(&mut self) {
        let mut expected = 0;
        for task in self.model.values_mut() {
            if task.state == TaskState::Failed {
                task.state = TaskState::Pending;
                task.attempts = 0;
                task.next_at = 0;
                expected += 1;
            }
        }
        let retried = self
            .store
            .retry_failed(&route(), "t")
            .await
            .expect("retry failed");
        assert_eq!(retried, expected, "retried tasks");
    }

    /// Deletes every task in the finished states of `mask` (all were last changed
    /// before the test clock).
    async fn purge(&mut self, mask: u8) {
        let states: Vec<TaskState> = [TaskState::Done, TaskState::Failed, TaskState::Skipped]
            .into_iter()
            .enumerate()
            .filter(|(bit, _)| mask & (1 << bit) != 0)
            .map(|(_, state)| state)
            .collect();
        let before = self.model.len();
        self.model.retain(|_, task| !states.contains(&task.state));
        let model = &self.model;
        self.leased.retain(|task| model.contains_key(&task.id));
        let purged = self
            .store
            .purge(&states, self.clock + 1)
            .await
            .expect("purge");
        assert_eq!(purged, (before - self.model.len()) as u64, "purged tasks");
    }

    /// Acknowledges a task by id or by its correlation value; only a waiting task may
    /// be acknowledged.
    async fn ack(&mut self, pick: usize, done: bool, by_correlation: bool) {
        let Some(id) = self
            .model
            .keys()
            .nth(pick % self.model.len().max(1))
            .cloned()
        else {
            return;
        };
        let ack = Ack {
            actor: "t".into(),
            outcome: if done {
                AckOutcome::Done
            } else {
                AckOutcome::Failed
            },
            message: Some("m".into()),
        };
        let target = ack.target();
        let model = self.model.get_mut(&id).expect("known task");
        let waiting = model.state == TaskState::Waiting;
        if by_correlation {
            let Some(correlation) = model.correlation.clone() else {
                return;
            };
            let acked = self
                .store
                .ack_correlated(&route(), &correlation, &ack)
                .await
                .expect("ack by correlation");
            // Correlation values are unique per task here.
            let expected: Vec<String> = if waiting { vec![id] } else { vec![] };
            assert_eq!(acked, expected, "acknowledged by correlation");
        } else {
            let result = self.store.act("default", &id, &TaskAction::Ack(ack)).await;
            if waiting {
                assert_eq!(result.expect("ack"), Some(target));
            } else {
                assert!(
                    result.is_err(),
                    "ack of a {} task must be refused",
                    model.state
                );
            }
        }
        if waiting {
            model.state = target;
        }
    }

    /// Ends waiting tasks past their deadline.
    async fn expire(&mut self, retry: bool) {
        let policy = if retry {
            OnTimeout::Retry {
                max_attempts: MAX_ATTEMPTS,
            }
        } else {
            OnTimeout::Fail
        };
        let clock = self.clock;
        let mut expected = BTreeMap::new();
        for (id, task) in &mut self.model {
            if task.state == TaskState::Waiting && task.next_at <= clock {
                task.state = match policy {
                    OnTimeout::Retry { max_attempts }
                        if task.attempts < i64::from(max_attempts) =>
                    {
                        task.next_at = clock;
                        TaskState::Pending
                    }
                    _ => TaskState::Failed,
                };
                expected.insert(id.clone(), task.state);
            }
        }
        let expired: BTreeMap<String, TaskState> = self
            .store
            .expire_waiting(&route(), clock, policy, "timed out")
            .await
            .expect("expire")
            .into_iter()
            .collect();
        assert_eq!(expired, expected, "expired tasks");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_queue_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = SqlQueue::default_url(dir.path());
            let store = Arc::new(SqlQueue::connect(&url, LEASE).await.expect("connect"));
            let clock = switchyard_runner::queue::now_ms() + CLOCK_START_OFFSET_MS;
            let mut harness = Harness { url, reclaims_at_start: true, store, model: BTreeMap::new(), leased: Vec::new(), clock, taken_back_at: None };
            for op in ops {
                harness.apply(op).await;
            }
        });
    }

    #[test]
    fn postgres_queue_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let Some(url) = common::fresh_database().await else {
                return;
            };
            let store = Arc::new(SqlQueue::connect(&url, LEASE).await.expect("connect"));
            let clock = switchyard_runner::queue::now_ms() + CLOCK_START_OFFSET_MS;
            let mut harness = Harness { url: url.clone(), reclaims_at_start: false, store, model: BTreeMap::new(), leased: Vec::new(), clock, taken_back_at: None };
            for op in ops {
                harness.apply(op).await;
            }
            drop(harness);
            common::drop_database(&url).await;
        });
    }
}
