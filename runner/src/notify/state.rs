//! What a rule's evaluation changes: the pure state machine of a Notification.
//!
//! - The condition starts to hold: the rule fires; a firing message goes out unless one
//!   went out less than a cool-down ago (a flapping rule sends one message, not one per
//!   flap).
//! - It keeps holding: a reminder once per cool-down (also the first message of a
//!   firing that the cool-down held back).
//! - It clears: a `resolved` message, if the firing was announced.

/// A rule's remembered state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleState {
    /// The condition held at the last evaluation.
    pub firing: bool,
    /// The current firing was announced (a `resolved` message is owed when it clears).
    pub notified: bool,
    /// When the last firing message went out (ms since the epoch).
    pub last_sent_ms: Option<i64>,
}

/// What to send after an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    /// The rule fires (first message or reminder).
    Firing,
    /// The rule cleared after a firing that was announced.
    Resolved,
}

impl Send {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// The state after an evaluation that found the condition `holds` at `now_ms`, and what
/// to send (nothing when the state says it was said already, or the cool-down holds).
pub fn next(
    state: RuleState,
    holds: bool,
    now_ms: i64,
    cooldown_ms: i64,
) -> (RuleState, Option<Send>) {
    let cooled = state
        .last_sent_ms
        .is_none_or(|sent| now_ms.saturating_sub(sent) >= cooldown_ms);
    match (holds, state.firing) {
        (true, _) if cooled => (
            RuleState {
                firing: true,
                notified: true,
                last_sent_ms: Some(now_ms),
            },
            Some(Send::Firing),
        ),
        (true, _) => (
            RuleState {
                firing: true,
                ..state
            },
            None,
        ),
        (false, true) => (
            RuleState {
                firing: false,
                notified: false,
                last_sent_ms: state.last_sent_ms,
            },
            state.notified.then_some(Send::Resolved),
        ),
        (false, false) => (state, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: i64 = 1_000;

    #[test]
    fn fires_once_per_cooldown_and_resolves() {
        let quiet = RuleState::default();
        assert_eq!(next(quiet, false, 0, COOL), (quiet, None));
        let (firing, send) = next(quiet, true, 10, COOL);
        assert_eq!(send, Some(Send::Firing));
        assert!(firing.firing && firing.notified);
        // Still firing inside the cool-down: nothing.
        let (same, send) = next(firing, true, 500, COOL);
        assert_eq!((same, send), (firing, None));
        // A reminder once the cool-down is over.
        let (reminded, send) = next(firing, true, 1_010, COOL);
        assert_eq!(send, Some(Send::Firing));
        assert_eq!(reminded.last_sent_ms, Some(1_010));
        // Clears: resolved.
        let (clear, send) = next(reminded, false, 1_100, COOL);
        assert_eq!(send, Some(Send::Resolved));
        assert!(!clear.firing && !clear.notified);
        // Fires again within the cool-down: held back, and so no resolved owed.
        let (held, send) = next(clear, true, 1_200, COOL);
        assert_eq!(send, None);
        assert!(held.firing && !held.notified);
        let (cleared, send) = next(held, false, 1_300, COOL);
        assert_eq!(send, None);
        assert!(!cleared.firing);
        // Held back, still firing after the cool-down: announced then.
        let (late, send) = next(held, true, 2_010, COOL);
        assert_eq!(send, Some(Send::Firing));
        assert!(late.notified);
    }
}
