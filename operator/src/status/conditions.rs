//! Standard conditions (`Ready`, `Progressing`, `Degraded`) with reasons and messages a
//! human can act on, and their transition times kept stable across reconciles.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::chrono::{DateTime, Utc};

/// A condition's wanted state, before transition times are filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

/// `Ready`.
pub fn ready(status: bool, reason: &'static str, message: impl Into<String>) -> Wanted {
    Wanted {
        type_: "Ready",
        status,
        reason,
        message: message.into(),
    }
}

/// `Progressing`.
pub fn progressing(status: bool, reason: &'static str, message: impl Into<String>) -> Wanted {
    Wanted {
        type_: "Progressing",
        status,
        reason,
        message: message.into(),
    }
}

/// `Degraded`.
pub fn degraded(status: bool, reason: &'static str, message: impl Into<String>) -> Wanted {
    Wanted {
        type_: "Degraded",
        status,
        reason,
        message: message.into(),
    }
}

/// The conditions to write: a condition whose status did not change keeps its
/// `lastTransitionTime`, so an unchanged resource gets an identical status (and no write).
pub fn resolve(
    wanted: Vec<Wanted>,
    previous: &[Condition],
    generation: Option<i64>,
    now: DateTime<Utc>,
) -> Vec<Condition> {
    wanted
        .into_iter()
        .map(|w| {
            let status = if w.status { "True" } else { "False" }.to_owned();
            let since = previous
                .iter()
                .find(|c| c.type_ == w.type_ && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or(Time(now));
            Condition {
                type_: w.type_.to_owned(),
                status,
                reason: w.reason.to_owned(),
                message: w.message,
                observed_generation: generation,
                last_transition_time: since,
            }
        })
        .collect()
}

/// The `Ready` condition of a list, if any.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::chrono::TimeZone;

    use super::*;

    #[test]
    fn an_unchanged_status_keeps_its_transition_time() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let t1 = Utc
            .with_ymd_and_hms(2026, 1, 2, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let first = resolve(vec![ready(true, "Running", "ok")], &[], Some(1), t0);
        let again = resolve(vec![ready(true, "Running", "ok")], &first, Some(1), t1);
        assert_eq!(first, again);
        let flipped = resolve(
            vec![ready(false, "RunnerUnavailable", "no")],
            &first,
            Some(1),
            t1,
        );
        assert_eq!(flipped[0].last_transition_time, Time(t1));
    }
}
