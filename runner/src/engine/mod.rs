//! The engine: intake into the queue, delivery workers per route, pollers, and reloads
//! that swap the configuration without losing queued or in-flight tasks.

mod admission;
mod attempt;
mod delivery;
mod intake;
mod poller;
mod replay;

pub use admission::{DiskFloor, LimitSource, Limits, Refusal};
pub use intake::{Arrived, IntakeError};
pub use replay::{REPLAY_SOURCE, ReplayError};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::queue::{CommitFailure, Committer, NewTask, QueueError, QueueStore, RouteKey};
use crate::runtime::{RouteRuntime, Runtime};
use crate::storage::StorageStore;

/// How long a stopping worker may take to finish its in-flight deliveries. Past it the
/// tasks stay `processing` and run again when their lease expires.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Workers of one configuration generation.
struct Generation {
    cancel: CancellationToken,
    tracker: TaskTracker,
}

pub struct Engine {
    store: Arc<dyn QueueStore>,
    committer: Committer,
    /// The key-value storage in the queue database.
    storage: Arc<dyn StorageStore>,
    runtime: ArcSwap<Runtime>,
    /// Wakes a route's delivery worker when tasks were queued. Kept across reloads.
    wakeups: Mutex<HashMap<RouteKey, Arc<Notify>>>,
    generation: tokio::sync::Mutex<Option<Generation>>,
    /// Back-pressure: whether routes may take new work.
    admission: admission::Admission,
}

impl Engine {
    pub fn new(
        store: Arc<dyn QueueStore>,
        storage: Arc<dyn StorageStore>,
        runtime: Runtime,
    ) -> Arc<Self> {
        Self::with_limits(store, storage, runtime, Limits::default())
    }

    /// [`Engine::new`] with back-pressure limits.
    pub fn with_limits(
        store: Arc<dyn QueueStore>,
        storage: Arc<dyn StorageStore>,
        runtime: Runtime,
        limits: Limits,
    ) -> Arc<Self> {
        tokio::spawn(crate::replicas::heartbeat(store.clone()));
        Arc::new(Self {
            admission: admission::Admission::new(limits),
            committer: Committer::start(store.clone()),
            storage,
            store,
            runtime: ArcSwap::from_pointee(runtime),
            wakeups: Mutex::default(),
            generation: tokio::sync::Mutex::new(None),
        })
    }

    /// `Some` while queue commits fail (see [`Committer::failing`]).
    pub fn commit_failure(&self) -> Option<CommitFailure> {
        self.committer.failing()
    }

    pub fn store(&self) -> &Arc<dyn QueueStore> {
        &self.store
    }

    pub fn storage(&self) -> &Arc<dyn StorageStore> {
        &self.storage
    }

    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    fn wakeup(&self, key: &RouteKey) -> Arc<Notify> {
        let mut wakeups = self.wakeups.lock().unwrap_or_else(|p| p.into_inner());
        wakeups.entry(key.clone()).or_default().clone()
    }

    /// Wakes a route's delivery worker (after tasks were put back to `pending`).
    pub fn wake(&self, key: &RouteKey) {
        self.wakeup(key).notify_one();
    }

    /// Starts the workers of the current configuration.
    pub async fn start(self: &Arc<Self>) {
        let mut generation = self.generation.lock().await;
        *generation = Some(self.spawn_workers());
    }

    /// Replaces the configuration: intake switches at once; delivery workers of the old
    /// configuration finish their in-flight tasks before the new ones start. Queued tasks
    /// stay in the queue throughout.
    pub async fn reload(self: &Arc<Self>, runtime: Runtime) {
        let mut generation = self.generation.lock().await;
        self.runtime.store(Arc::new(runtime));
        if let Some(old) = generation.take() {
            drain(old).await;
        }
        *generation = Some(self.spawn_workers());
        tracing::info!(
            routes = self.runtime.load().routes.len(),
            "Configuration reloaded"
        );
    }

    /// Stops every worker after its in-flight deliveries.
    pub async fn shutdown(&self) {
        if let Some(old) = self.generation.lock().await.take() {
            drain(old).await;
        }
    }

    fn spawn_workers(self: &Arc<Self>) -> Generation {
        let generation = Generation {
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        };
        for route in self.runtime.load().routes.values() {
            if route.suspended() {
                tracing::info!(namespace = %route.key.namespace, route = %route.key.route, "Route suspended; not delivering");
                continue;
            }
            // A proxy route forwards its calls as they come; nothing waits for delivery.
            if route.is_proxy() {
                continue;
            }
            generation.tracker.spawn(delivery::run(
                self.clone(),
                route.clone(),
                generation.cancel.clone(),
                generation.tracker.clone(),
            ));
            if route.source.is_some() {
                generation.tracker.spawn(poller::run(
                    self.clone(),
                    route.clone(),
                    generation.cancel.clone(),
                ));
            }
        }
        generation
    }

    /// Commits tasks that are over already (proxied calls, see
    /// [`crate::queue::PROXY_SOURCE`]) through the group commit.
    pub async fn record(&self, tasks: Vec<NewTask>) -> Result<(), Arc<QueueError>> {
        self.committer.enqueue(tasks).await
    }

    /// Runs a route's poll now (the manual trigger) under a claim like a scheduled
    /// tick's; returns the ids of the new tasks. While another runner polls the route,
    /// it fails with [`crate::queue::QueueError::PollBusy`].
    pub async fn poll_now(&self, route: &RouteRuntime) -> Result<Vec<String>, IntakeError> {
        match poller::poll_claimed(self, route, crate::queue::now_ms()).await? {
            Some(ids) => Ok(ids),
            None => Err(IntakeError::Queue(Arc::new(
                crate::queue::QueueError::PollBusy {
                    namespace: route.key.namespace.clone(),
                    route: route.key.route.clone(),
                },
            ))),
        }
    }
}

async fn drain(generation: Generation) {
    generation.cancel.cancel();
    generation.tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, generation.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "Workers did not finish within {DRAIN_TIMEOUT:?}; their tasks run again when the leases expire"
        );
    }
}
