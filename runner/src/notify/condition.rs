//! Evaluating a Notification's condition against the queue and the Connections.

use switchyard_crds::v1alpha1::NotificationRule;

use super::store::{SqlNotifications, StoreError};
use crate::circuit::CircuitState;
use crate::queue::RouteKey;
use crate::runtime::Runtime;

/// What one evaluation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The condition holds: the rule fires.
    pub holds: bool,
    /// One line for a subject or a chat message.
    pub summary: String,
    /// What was found, for the body (secrets are redacted before sending).
    pub details: String,
}

/// The Routes of `namespace` a rule looks at: `route` only, or all of them.
fn routes(runtime: &Runtime, namespace: &str, route: Option<&str>) -> Vec<RouteKey> {
    runtime
        .routes
        .keys()
        .filter(|key| key.namespace == namespace && route.is_none_or(|r| r == key.route))
        .cloned()
        .collect()
}

fn scope(route: Option<&str>) -> String {
    match route {
        Some(route) => format!("route `{route}`"),
        None => "the namespace's routes".to_owned(),
    }
}

/// Evaluates `rule` for a Notification of `namespace` at `now_ms`.
pub async fn evaluate(
    rule: &NotificationRule,
    namespace: &str,
    runtime: &Runtime,
    store: &SqlNotifications,
    now_ms: i64,
) -> Result<Observation, StoreError> {
    if let Some(failed) = &rule.failed_tasks {
        let window_ms =
            i64::try_from(failed.window_seconds.saturating_mul(1_000)).unwrap_or(i64::MAX / 2);
        let mut total = 0;
        let mut last: Option<(String, String)> = None;
        for key in routes(runtime, namespace, failed.route.as_deref()) {
            let (count, error) = store.failed_since(&key, now_ms - window_ms).await?;
            total += count;
            if let Some(error) = error {
                last = Some((key.route.clone(), error));
            }
        }
        let scope = scope(failed.route.as_deref());
        let mut details = format!(
            "{total} task(s) of {scope} failed in the last {} s (the rule fires at {}).",
            failed.window_seconds, failed.count
        );
        if let Some((route, error)) = last {
            details.push_str(&format!("\nLast error (route `{route}`): {error}"));
        }
        return Ok(Observation {
            holds: total >= failed.count,
            summary: format!(
                "{total} failed task(s) of {scope} in the last {} s",
                failed.window_seconds
            ),
            details,
        });
    }
    if let Some(age) = &rule.task_age {
        let mut oldest: Option<(String, i64)> = None;
        for key in routes(runtime, namespace, age.route.as_deref()) {
            if let Some(created) = store.oldest_active(&key).await?
                && oldest.as_ref().is_none_or(|(_, o)| created < *o)
            {
                oldest = Some((key.route.clone(), created));
            }
        }
        let scope = scope(age.route.as_deref());
        let limit_ms =
            i64::try_from(age.older_than_seconds.saturating_mul(1_000)).unwrap_or(i64::MAX / 2);
        return Ok(match oldest {
            Some((route, created)) if now_ms - created > limit_ms => Observation {
                holds: true,
                summary: format!(
                    "a task of route `{route}` has waited {} s (over {} s)",
                    (now_ms - created) / 1_000,
                    age.older_than_seconds
                ),
                details: format!(
                    "The oldest pending or processing task of {scope} was queued {} s ago, on route `{route}`.",
                    (now_ms - created) / 1_000
                ),
            },
            _ => Observation {
                holds: false,
                summary: format!(
                    "no task of {scope} has waited over {} s",
                    age.older_than_seconds
                ),
                details: format!(
                    "Every pending or processing task of {scope} is younger than {} s.",
                    age.older_than_seconds
                ),
            },
        });
    }
    if let Some(probe) = &rule.connection_probe {
        let key = (namespace.to_owned(), probe.connection.clone());
        let name = &probe.connection;
        return Ok(match runtime.connections.probe(&key).await {
            Some(found) if found.ok => Observation {
                holds: false,
                summary: format!("Connection `{name}` answers"),
                details: found.message,
            },
            Some(found) => Observation {
                holds: true,
                summary: format!("Connection `{name}` fails its probe"),
                details: found.message,
            },
            // Validation only admits HTTP and database Connections, which can be probed.
            None => Observation {
                holds: true,
                summary: format!("Connection `{name}` cannot be probed"),
                details: format!(
                    "Connection `{name}` is not loaded in this runner, or cannot be probed."
                ),
            },
        });
    }
    if let Some(circuit) = &rule.circuit_open {
        let name = &circuit.connection;
        return Ok(match crate::circuit::get(namespace, name) {
            Some(snapshot) if snapshot.state != CircuitState::Closed => Observation {
                holds: true,
                summary: format!(
                    "the circuit of Connection `{name}` is {}",
                    snapshot.state.as_str()
                ),
                details: format!(
                    "Deliveries through Connection `{name}` are held back (their tasks wait, spending no attempts). {}",
                    snapshot.reason
                ),
            },
            _ => Observation {
                holds: false,
                summary: format!("the circuit of Connection `{name}` is closed"),
                details: format!("Deliveries through Connection `{name}` go through again."),
            },
        });
    }
    Ok(Observation {
        holds: false,
        summary: "no condition".to_owned(),
        details: String::new(),
    })
}
