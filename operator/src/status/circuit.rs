//! The `CircuitOpen` condition of a Connection, from the circuit its runner reports
//! (`status.circuit`).

use switchyard_crds::v1alpha1::{CircuitPhase, CircuitStatus};

use super::conditions::Wanted;

/// The condition's type.
pub const CIRCUIT_OPEN: &str = "CircuitOpen";

/// `CircuitOpen`: true while the runner holds deliveries back (open or half-open), with
/// since and until in the message; absent when no runner reported a circuit.
pub fn condition(circuit: Option<&CircuitStatus>) -> Option<Wanted> {
    let circuit = circuit?;
    let since = circuit.since.as_deref().unwrap_or("unknown");
    let why = if circuit.reason.is_empty() {
        String::new()
    } else {
        format!(" ({})", circuit.reason)
    };
    Some(match circuit.state {
        CircuitPhase::Closed => Wanted {
            type_: CIRCUIT_OPEN,
            status: false,
            reason: "Closed",
            message: String::new(),
        },
        CircuitPhase::Open => Wanted {
            type_: CIRCUIT_OPEN,
            status: true,
            reason: "Open",
            message: format!(
                "Deliveries through this Connection are held back since {since} until {}{why}; their tasks wait in pending without spending attempts, then one trial delivery goes out.",
                circuit.until.as_deref().unwrap_or("unknown")
            ),
        },
        CircuitPhase::HalfOpen => Wanted {
            type_: CIRCUIT_OPEN,
            status: true,
            reason: "HalfOpen",
            message: format!(
                "Deliveries through this Connection are held back since {since}; one trial delivery is deciding whether the circuit closes{why}."
            ),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: CircuitPhase) -> CircuitStatus {
        CircuitStatus {
            state,
            since: Some("2026-12-02T19:00:00Z".into()),
            until: Some("2026-12-02T19:00:30Z".into()),
            reason: "5 failures in a row; the last: status 503".into(),
            time: "2026-12-02T19:00:00Z".into(),
        }
    }

    #[test]
    fn an_open_circuit_says_since_and_until() {
        let open = condition(Some(&status(CircuitPhase::Open))).expect("a condition");
        assert_eq!(
            (open.type_, open.status, open.reason),
            (CIRCUIT_OPEN, true, "Open")
        );
        assert!(
            open.message
                .contains("since 2026-12-02T19:00:00Z until 2026-12-02T19:00:30Z")
                && open.message.contains("status 503"),
            "{}",
            open.message
        );
        let closed = condition(Some(&status(CircuitPhase::Closed))).expect("a condition");
        assert_eq!((closed.status, closed.reason), (false, "Closed"));
        assert!(condition(None).is_none());
    }
}
