//! The state machine of one Connection's circuit breaker. Times are passed in (ms since
//! the Unix epoch) so the transitions are tested without waiting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};

use super::CircuitSnapshot;
use crate::metrics::events::{self, CircuitState};

/// The settings of a breaker (`spec.circuitBreaker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Transient failures in a row that open the circuit.
    pub failures: u32,
    /// How long the circuit stays open before a trial.
    pub open_for: Duration,
}

impl Settings {
    pub fn of(spec: &switchyard_crds::v1alpha1::CircuitBreaker) -> Self {
        Self {
            failures: spec.failures(),
            open_for: Duration::from_secs(u64::from(spec.open_seconds())),
        }
    }
}

/// How a delivery through the Connection went, as far as the breaker cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The system answered (delivered, or refused the item for a reason of its own).
    Answered,
    /// A transient failure (down, overloaded, slow); `retry_after`: the wait it asked for.
    Failed {
        why: String,
        retry_after: Option<Duration>,
    },
    /// Nothing was sent (the item was filtered out, or no request could be built).
    NotSent,
}

/// May a delivery go out now?
pub enum Gate {
    /// Yes; settle the pass with the outcome.
    Go(Pass),
    /// No: the circuit is open until `until_ms`, or half-open with its trial out
    /// (`None`: wait for a change).
    Wait { until_ms: Option<i64> },
}

/// What the circuit would let through now (see [`Breaker::outlook`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outlook {
    /// A delivery may go out; `trial`: it would be the half-open circuit's trial.
    Go { trial: bool },
    /// Held back, as [`Gate::Wait`].
    Wait { until_ms: Option<i64> },
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    state: CircuitState,
    /// Transient failures in a row while closed.
    failures: u32,
    /// When the circuit opened (kept through half-open and re-opening).
    since_ms: Option<i64>,
    /// End of the current cool-down (open only).
    until_ms: Option<i64>,
    /// Why it is in this state.
    reason: String,
    /// Half-open: the trial delivery is out.
    trial_out: bool,
}

/// One Connection's circuit breaker, shared by the Routes that deliver through it and
/// kept across configuration reloads.
pub struct Breaker {
    namespace: String,
    connection: String,
    inner: Mutex<Inner>,
    /// Wakes delivery workers held back by this circuit when it closes or half-opens.
    changed: Notify,
    transitions: broadcast::Sender<CircuitSnapshot>,
}

impl Breaker {
    pub(super) fn new(
        namespace: &str,
        connection: &str,
        settings: Settings,
        transitions: broadcast::Sender<CircuitSnapshot>,
    ) -> Self {
        Self {
            namespace: namespace.to_owned(),
            connection: connection.to_owned(),
            inner: Mutex::new(Inner {
                settings,
                state: CircuitState::Closed,
                failures: 0,
                since_ms: None,
                until_ms: None,
                reason: String::new(),
                trial_out: false,
            }),
            changed: Notify::new(),
            transitions,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn configure(&self, settings: Settings) {
        self.lock().settings = settings;
    }

    /// The breaker's state now.
    pub fn snapshot(&self) -> CircuitSnapshot {
        let inner = self.lock();
        self.snapshot_of(&inner)
    }

    fn snapshot_of(&self, inner: &Inner) -> CircuitSnapshot {
        CircuitSnapshot {
            namespace: self.namespace.clone(),
            connection: self.connection.clone(),
            state: inner.state,
            consecutive_failures: inner.failures,
            since_ms: inner.since_ms,
            until_ms: inner.until_ms,
            reason: inner.reason.clone(),
        }
    }

    /// Waits until the circuit may have changed (it closed, or a cool-down ended
    /// elsewhere); callers also time out on their own.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// What [`Breaker::admit`] would answer at `now_ms`, without taking the trial:
    /// `Go(true)` for a trial, `Go(false)` for a delivery of a closed circuit.
    pub fn outlook(&self, now_ms: i64) -> Outlook {
        let inner = self.lock();
        match inner.state {
            CircuitState::Closed => Outlook::Go { trial: false },
            CircuitState::Open => match inner.until_ms {
                Some(until) if now_ms < until => Outlook::Wait {
                    until_ms: Some(until),
                },
                _ => Outlook::Go { trial: true },
            },
            CircuitState::HalfOpen if inner.trial_out => Outlook::Wait { until_ms: None },
            CircuitState::HalfOpen => Outlook::Go { trial: true },
        }
    }

    /// Whether a delivery may go out at `now_ms`. An open circuit whose cool-down is
    /// over half-opens and hands out its one trial.
    pub fn admit(self: &Arc<Self>, now_ms: i64) -> Gate {
        let mut inner = self.lock();
        match inner.state {
            CircuitState::Closed => Gate::Go(self.pass(false)),
            CircuitState::Open => match inner.until_ms {
                Some(until) if now_ms < until => Gate::Wait {
                    until_ms: Some(until),
                },
                _ => {
                    inner.until_ms = None;
                    inner.trial_out = true;
                    let why = "the cool-down is over; one trial delivery goes out".to_owned();
                    self.transition(&mut inner, CircuitState::HalfOpen, why);
                    Gate::Go(self.pass(true))
                }
            },
            CircuitState::HalfOpen if inner.trial_out => Gate::Wait { until_ms: None },
            CircuitState::HalfOpen => {
                inner.trial_out = true;
                Gate::Go(self.pass(true))
            }
        }
    }

    fn pass(self: &Arc<Self>, trial: bool) -> Pass {
        Pass {
            breaker: Some(self.clone()),
            trial,
        }
    }

    fn transition(&self, inner: &mut Inner, state: CircuitState, why: String) {
        inner.state = state;
        inner.reason = why;
        events::circuit_changed(&self.namespace, &self.connection, state, &inner.reason);
        // Nobody listening is fine: the notify rule and the console subscribe if they
        // care.
        let _ = self.transitions.send(self.snapshot_of(inner));
        if state != CircuitState::Open {
            self.changed.notify_waiters();
        }
    }

    fn open(&self, inner: &mut Inner, now_ms: i64, for_: Duration, why: String) {
        let until = now_ms.saturating_add(i64::try_from(for_.as_millis()).unwrap_or(i64::MAX / 2));
        inner.since_ms.get_or_insert(now_ms);
        inner.failures = 0;
        inner.trial_out = false;
        match inner.state {
            // Already open: a longer pause asked for extends it, quietly.
            CircuitState::Open => {
                if inner.until_ms.is_none_or(|u| u < until) {
                    inner.until_ms = Some(until);
                    inner.reason = why;
                    let _ = self.transitions.send(self.snapshot_of(inner));
                }
            }
            CircuitState::Closed | CircuitState::HalfOpen => {
                inner.until_ms = Some(until);
                self.transition(inner, CircuitState::Open, why);
            }
        }
    }

    fn settle(&self, trial: bool, verdict: Verdict, now_ms: i64) {
        let mut inner = self.lock();
        let open_for = inner.settings.open_for;
        match verdict {
            Verdict::NotSent => {
                if trial && inner.state == CircuitState::HalfOpen {
                    // The trial sent nothing: the next delivery is the trial.
                    inner.trial_out = false;
                }
            }
            // The receiver asked for a pause: the whole Connection keeps it.
            Verdict::Failed {
                why,
                retry_after: Some(wait),
            } => {
                let why = format!(
                    "the system asked to wait {} s (Retry-After): {why}",
                    wait.as_secs()
                );
                self.open(&mut inner, now_ms, wait.max(Duration::from_secs(1)), why);
            }
            Verdict::Failed {
                why,
                retry_after: None,
            } => match inner.state {
                CircuitState::Closed => {
                    inner.failures += 1;
                    if inner.failures >= inner.settings.failures {
                        let why = format!("{} failures in a row; the last: {why}", inner.failures);
                        self.open(&mut inner, now_ms, open_for, why);
                    }
                }
                CircuitState::HalfOpen if trial => {
                    let why = format!("the trial delivery failed: {why}");
                    self.open(&mut inner, now_ms, open_for, why);
                }
                // A delivery that started before the circuit opened.
                CircuitState::HalfOpen | CircuitState::Open => {}
            },
            Verdict::Answered => match inner.state {
                CircuitState::Closed => inner.failures = 0,
                CircuitState::HalfOpen if trial => {
                    inner.since_ms = None;
                    inner.until_ms = None;
                    inner.failures = 0;
                    inner.trial_out = false;
                    let why = "the trial delivery went through".to_owned();
                    self.transition(&mut inner, CircuitState::Closed, why);
                }
                CircuitState::HalfOpen | CircuitState::Open => {}
            },
        }
    }
}

/// Leave to deliver through a Connection; settle it with how the delivery went. A trial
/// pass dropped unsettled (the worker stopped) hands the trial to the next delivery.
pub struct Pass {
    breaker: Option<Arc<Breaker>>,
    trial: bool,
}

impl Pass {
    /// A pass of a Connection without a circuit breaker.
    pub fn free() -> Self {
        Self {
            breaker: None,
            trial: false,
        }
    }

    /// This delivery decides whether a half-open circuit closes.
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// Records how the delivery went.
    pub fn settle(mut self, verdict: Verdict) {
        self.settle_at(verdict, crate::queue::now_ms());
    }

    fn settle_at(&mut self, verdict: Verdict, now_ms: i64) {
        if let Some(breaker) = self.breaker.take() {
            breaker.settle(self.trial, verdict, now_ms);
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        if self.breaker.is_some() {
            self.settle_at(Verdict::NotSent, crate::queue::now_ms());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN_MS: i64 = 30_000;

    fn breaker() -> Arc<Breaker> {
        let (sender, _) = broadcast::channel(16);
        Arc::new(Breaker::new(
            "shop",
            "breaker-unit",
            Settings {
                failures: 3,
                open_for: Duration::from_millis(OPEN_MS as u64),
            },
            sender,
        ))
    }

    fn go(breaker: &Arc<Breaker>, now: i64) -> Pass {
        match breaker.admit(now) {
            Gate::Go(pass) => pass,
            Gate::Wait { until_ms } => panic!("held until {until_ms:?}"),
        }
    }

    fn failed() -> Verdict {
        Verdict::Failed {
            why: "status 503".into(),
            retry_after: None,
        }
    }

    #[test]
    fn failures_in_a_row_open_then_one_trial_closes() {
        let b = breaker();
        for _ in 0..2 {
            go(&b, 0).settle_at(failed(), 0);
        }
        // A success in between starts the count again.
        go(&b, 0).settle_at(Verdict::Answered, 0);
        for _ in 0..3 {
            go(&b, 1).settle_at(failed(), 1);
        }
        let open = b.snapshot();
        assert_eq!(open.state, CircuitState::Open);
        assert_eq!((open.since_ms, open.until_ms), (Some(1), Some(1 + OPEN_MS)));
        assert!(
            open.reason.contains("3 failures in a row"),
            "{}",
            open.reason
        );
        assert_eq!(
            b.outlook(OPEN_MS),
            Outlook::Wait {
                until_ms: Some(1 + OPEN_MS)
            }
        );
        assert_eq!(b.outlook(1 + OPEN_MS), Outlook::Go { trial: true });
        assert!(matches!(
            b.admit(OPEN_MS),
            Gate::Wait { until_ms: Some(u) } if u == 1 + OPEN_MS
        ));
        // After the cool-down exactly one trial goes out.
        let mut trial = go(&b, 1 + OPEN_MS);
        assert!(trial.is_trial());
        assert_eq!(b.snapshot().state, CircuitState::HalfOpen);
        assert!(matches!(
            b.admit(2 + OPEN_MS),
            Gate::Wait { until_ms: None }
        ));
        assert_eq!(b.outlook(2 + OPEN_MS), Outlook::Wait { until_ms: None });
        trial.settle_at(Verdict::Answered, 3 + OPEN_MS);
        let closed = b.snapshot();
        assert_eq!(closed.state, CircuitState::Closed);
        assert_eq!((closed.since_ms, closed.until_ms), (None, None));
        assert!(!go(&b, 4 + OPEN_MS).is_trial());
    }

    #[test]
    fn a_failed_trial_reopens_and_keeps_since() {
        let b = breaker();
        for _ in 0..3 {
            go(&b, 10).settle_at(failed(), 10);
        }
        let mut trial = go(&b, 10 + OPEN_MS);
        trial.settle_at(failed(), 20 + OPEN_MS);
        let reopened = b.snapshot();
        assert_eq!(reopened.state, CircuitState::Open);
        assert_eq!(reopened.since_ms, Some(10));
        assert_eq!(reopened.until_ms, Some(20 + 2 * OPEN_MS));
        assert!(reopened.reason.contains("trial"), "{}", reopened.reason);
    }

    #[test]
    fn a_trial_that_sent_nothing_hands_the_trial_on() {
        let b = breaker();
        for _ in 0..3 {
            go(&b, 0).settle_at(failed(), 0);
        }
        let trial = go(&b, OPEN_MS);
        drop(trial);
        assert_eq!(b.snapshot().state, CircuitState::HalfOpen);
        assert!(go(&b, OPEN_MS + 1).is_trial());
    }

    #[test]
    fn retry_after_pauses_at_once_and_extends_an_open_circuit() {
        let b = breaker();
        let asked = |seconds| Verdict::Failed {
            why: "status 429".into(),
            retry_after: Some(Duration::from_secs(seconds)),
        };
        go(&b, 0).settle_at(asked(5), 0);
        let paused = b.snapshot();
        assert_eq!(paused.state, CircuitState::Open);
        assert_eq!(paused.until_ms, Some(5_000));
        assert!(paused.reason.contains("Retry-After"), "{}", paused.reason);
        // A delivery in flight when it opened asks for longer: the pause grows.
        Pass {
            breaker: Some(b.clone()),
            trial: false,
        }
        .settle_at(asked(60), 100);
        assert_eq!(b.snapshot().until_ms, Some(60_100));
        // A late success of a delivery that started before does not close it.
        Pass {
            breaker: Some(b.clone()),
            trial: false,
        }
        .settle_at(Verdict::Answered, 200);
        assert_eq!(b.snapshot().state, CircuitState::Open);
    }
}
