//! Circuit breakers per Connection (`spec.circuitBreaker`): after consecutive transient
//! failures the deliveries through a Connection are held back (their tasks stay
//! `pending` and spend no attempts) until one trial after a cool-down succeeds; an
//! answer with `Retry-After` pauses the whole Connection for that long.
//!
//! The breakers live in this process, one per Connection, kept across configuration
//! reloads; every Route delivering through a Connection shares its breaker. Each runner
//! replica has its own (see docs/scaling.md). Read the state with [`snapshot`] or
//! [`get`], follow it with [`subscribe`]; every transition is logged and counted through
//! [`crate::metrics::events::circuit_changed`].

mod breaker;

pub use breaker::{Breaker, Gate, Outlook, Pass, Settings, Verdict};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::broadcast;

pub use crate::metrics::events::CircuitState;

/// One Connection's circuit as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitSnapshot {
    pub namespace: String,
    pub connection: String,
    pub state: CircuitState,
    /// Transient failures in a row so far (closed only).
    pub consecutive_failures: u32,
    /// When the circuit opened (ms since the Unix epoch); `None` while closed.
    pub since_ms: Option<i64>,
    /// End of the cool-down (open only).
    pub until_ms: Option<i64>,
    /// Why it is in this state (secrets masked); empty before the first transition.
    pub reason: String,
}

/// Transitions kept for a slow subscriber before it misses some.
const TRANSITIONS_KEPT: usize = 256;

struct Registry {
    breakers: BTreeMap<(String, String), Arc<Breaker>>,
    transitions: broadcast::Sender<CircuitSnapshot>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| {
    Mutex::new(Registry {
        breakers: BTreeMap::new(),
        transitions: broadcast::channel(TRANSITIONS_KEPT).0,
    })
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// The breaker of Connection `connection` of `namespace` with `settings`: the existing
/// one (its state kept, its settings updated) or a new, closed one.
pub fn breaker(namespace: &str, connection: &str, settings: Settings) -> Arc<Breaker> {
    let mut registry = registry();
    let key = (namespace.to_owned(), connection.to_owned());
    if let Some(existing) = registry.breakers.get(&key) {
        existing.configure(settings);
        return existing.clone();
    }
    let created = Arc::new(Breaker::new(
        namespace,
        connection,
        settings,
        registry.transitions.clone(),
    ));
    registry.breakers.insert(key, created.clone());
    created
}

/// Forgets the breakers of Connections that no longer have one (a configuration
/// without them is running).
pub fn retain(keep: &BTreeSet<(String, String)>) {
    registry().breakers.retain(|key, _| keep.contains(key));
}

/// Every circuit of this runner, by namespace and Connection.
pub fn snapshot() -> Vec<CircuitSnapshot> {
    let breakers: Vec<Arc<Breaker>> = registry().breakers.values().cloned().collect();
    breakers.iter().map(|b| b.snapshot()).collect()
}

/// The circuit of one Connection; `None` when it has no circuit breaker.
pub fn get(namespace: &str, connection: &str) -> Option<CircuitSnapshot> {
    let breaker = registry()
        .breakers
        .get(&(namespace.to_owned(), connection.to_owned()))
        .cloned()?;
    Some(breaker.snapshot())
}

/// Every transition from now on (open, half-open, closed, and an open circuit's pause
/// growing), for notifications and the console.
pub fn subscribe() -> broadcast::Receiver<CircuitSnapshot> {
    registry().transitions.subscribe()
}
