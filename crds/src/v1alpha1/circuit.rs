//! The circuit breaker of a Connection: its settings (`spec.circuitBreaker`) and what a
//! runner reports about it (`status.circuit`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Consecutive failed deliveries that open the circuit unless the Connection says
/// otherwise.
pub const DEFAULT_CIRCUIT_FAILURES: u32 = 5;
/// Seconds an open circuit holds deliveries back before one trial unless the Connection
/// says otherwise.
pub const DEFAULT_CIRCUIT_OPEN_SECONDS: u32 = 30;
/// Longest cool-down a Connection may ask for (one day).
pub const MAX_CIRCUIT_OPEN_SECONDS: u32 = 86_400;

/// The settings of a Connection's circuit breaker (`spec.circuitBreaker`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Transient delivery failures in a row that open the circuit (any success in
    /// between starts the count again). Absent: 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub consecutive_failures: Option<u32>,
    /// Seconds the circuit stays open before one trial delivery, at most 86400.
    /// Absent: 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86_400))]
    pub open_seconds: Option<u32>,
}

impl CircuitBreaker {
    /// `consecutiveFailures` or its default.
    pub fn failures(&self) -> u32 {
        self.consecutive_failures
            .unwrap_or(DEFAULT_CIRCUIT_FAILURES)
            .max(1)
    }

    /// `openSeconds` or its default.
    pub fn open_seconds(&self) -> u32 {
        self.open_seconds
            .unwrap_or(DEFAULT_CIRCUIT_OPEN_SECONDS)
            .clamp(1, MAX_CIRCUIT_OPEN_SECONDS)
    }
}

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CircuitPhase {
    /// Deliveries go through.
    Closed,
    /// Deliveries are held back until `until`.
    Open,
    /// The cool-down is over; one trial delivery decides whether the circuit closes.
    HalfOpen,
}

/// The circuit breaker of a Connection as a runner sees it (written by the runner when
/// it changes; the operator turns it into the `CircuitOpen` condition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CircuitStatus {
    /// `Closed`, `Open` or `HalfOpen`.
    pub state: CircuitPhase,
    /// When the circuit opened (RFC 3339); absent while closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// When the next trial delivery may go out (RFC 3339); absent unless open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Why it is in this state (the last failure, secrets masked).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// When the runner wrote this (RFC 3339).
    pub time: String,
}
