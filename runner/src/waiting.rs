//! Tasks that wait for the receiver's acknowledgement (`outgoing.await`): the
//! correlation value read from the receiver's answer, callbacks that acknowledge tasks
//! by that value, and the deadlines, which the housekeeping loop enforces.

use std::time::Duration;

use serde_json::Value;
use switchyard_crds::problem::FieldProblem;
use switchyard_crds::v1alpha1::{Await, AwaitTimeout};

use crate::connectors::webhook::WebhookAuthenticator;
use crate::engine::Engine;
use crate::queue::{Ack, AckOutcome, OnTimeout, TaskState, now_ms};
use crate::secrets::SecretSource;
use crate::transform::JqProgram;

/// Why a correlation value or a callback could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitingError {
    #[error("the `{field}` program failed: {message}")]
    Program {
        field: &'static str,
        message: String,
    },
    #[error("the `{field}` program yielded {found}, not a string or a number")]
    NoValue { field: &'static str, found: String },
    #[error(
        "the `callback.outcome` program yielded {0}; expected true, false, \"done\" or \"failed\""
    )]
    Outcome(String),
}

impl WaitingError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Program { .. } => "waiting_program",
            Self::NoValue { .. } => "waiting_no_value",
            Self::Outcome(_) => "waiting_outcome",
        }
    }
}

/// A route's `outgoing.await`, compiled.
pub struct Awaiting {
    correlation: JqProgram,
    pub timeout: Duration,
    on_timeout: AwaitTimeout,
    pub callback: Option<Callback>,
}

/// A route's `outgoing.await.callback`, compiled.
pub struct Callback {
    correlation: JqProgram,
    outcome: Option<JqProgram>,
    message: Option<JqProgram>,
    /// How the caller authenticates; `None`: anyone who can reach the port.
    pub auth: Option<WebhookAuthenticator>,
}

fn compile(field: &str, code: &str) -> Result<JqProgram, FieldProblem> {
    JqProgram::compile(code).map_err(|e| FieldProblem::new(field, e))
}

impl Awaiting {
    /// Errors name the field of `spec.outgoing.await` that is wrong.
    pub fn new(
        spec: &Await,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, FieldProblem> {
        let field = "spec.outgoing.await";
        let callback = match &spec.callback {
            None => None,
            Some(callback) => {
                let at = format!("{field}.callback");
                let optional = |name: &str, code: &Option<String>| {
                    code.as_deref()
                        .map(|code| compile(&format!("{at}.{name}"), code))
                        .transpose()
                };
                let auth = match &callback.auth {
                    None => None,
                    Some(auth) => WebhookAuthenticator::new_at(
                        auth,
                        &format!("{at}.auth"),
                        namespace,
                        secrets,
                    )?,
                };
                Some(Callback {
                    correlation: compile(&format!("{at}.correlation"), &callback.correlation)?,
                    outcome: optional("outcome", &callback.outcome)?,
                    message: optional("message", &callback.message)?,
                    auth,
                })
            }
        };
        Ok(Self {
            correlation: compile(&format!("{field}.correlation"), &spec.correlation)?,
            timeout: Duration::from_secs(spec.timeout_seconds),
            on_timeout: spec.on_timeout.unwrap_or_default(),
            callback,
        })
    }

    /// The correlation value of a delivered item, from the receiver's answer.
    pub fn correlation_of(&self, response: &Value) -> Result<String, WaitingError> {
        text_of("await.correlation", &self.correlation, response)
    }

    /// What a timeout does, for a route allowing `max_attempts` attempts.
    pub fn on_timeout(&self, max_attempts: u32) -> OnTimeout {
        match self.on_timeout {
            AwaitTimeout::Fail => OnTimeout::Fail,
            AwaitTimeout::Retry => OnTimeout::Retry { max_attempts },
        }
    }
}

impl Callback {
    /// The correlation value and the acknowledgement one callback item carries.
    pub fn read(&self, body: &Value) -> Result<(String, Ack), WaitingError> {
        let correlation = text_of("callback.correlation", &self.correlation, body)?;
        let outcome = match &self.outcome {
            None => AckOutcome::Done,
            Some(program) => match run(program, "callback.outcome", body)? {
                Some(Value::Bool(true)) => AckOutcome::Done,
                Some(Value::Bool(false)) => AckOutcome::Failed,
                Some(Value::String(text)) if text == "done" => AckOutcome::Done,
                Some(Value::String(text)) if text == "failed" => AckOutcome::Failed,
                other => return Err(WaitingError::Outcome(shown(other.as_ref()))),
            },
        };
        let message = match &self.message {
            None => None,
            Some(program) => match run(program, "callback.message", body)? {
                None | Some(Value::Null) => None,
                Some(Value::String(text)) => Some(text),
                Some(other) => Some(other.to_string()),
            },
        };
        Ok((
            correlation,
            Ack {
                actor: "callback".into(),
                outcome,
                message,
            },
        ))
    }
}

fn run(
    program: &JqProgram,
    field: &'static str,
    input: &Value,
) -> Result<Option<Value>, WaitingError> {
    program
        .first(input.clone())
        .map_err(|e| WaitingError::Program {
            field,
            message: e.to_string(),
        })
}

/// A program's output as a correlation value: a string, or a number as written.
fn text_of(
    field: &'static str,
    program: &JqProgram,
    input: &Value,
) -> Result<String, WaitingError> {
    match run(program, field, input)? {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(Value::Number(number)) => Ok(number.to_string()),
        other => Err(WaitingError::NoValue {
            field,
            found: shown(other.as_ref()),
        }),
    }
}

fn shown(value: Option<&Value>) -> String {
    match value {
        None => "nothing".into(),
        Some(value) => crate::redact::excerpt(&value.to_string(), 100),
    }
}

/// One pass over the routes that wait for acknowledgements; returns how many tasks
/// timed out.
pub async fn expire_once(engine: &Engine) -> usize {
    let runtime = engine.runtime();
    let mut expired = 0;
    for route in runtime.routes.values() {
        let Some(awaiting) = &route.awaiting else {
            continue;
        };
        let policy = awaiting.on_timeout(route.compiled.processing.retry.max_attempts);
        let reason = format!("No acknowledgement within {} s", awaiting.timeout.as_secs());
        match engine
            .store()
            .expire_waiting(&route.key, now_ms(), policy, &reason)
            .await
        {
            Ok(tasks) if tasks.is_empty() => {}
            Ok(tasks) => {
                let again = tasks
                    .iter()
                    .filter(|(_, state)| *state == TaskState::Pending)
                    .count();
                tracing::info!(namespace = %route.key.namespace, route = %route.key.route, tasks = tasks.len(), sent_again = again, "Waiting tasks timed out");
                if again > 0 {
                    engine.wake(&route.key);
                }
                expired += tasks.len();
            }
            Err(error) => {
                tracing::warn!(namespace = %route.key.namespace, route = %route.key.route, error = %error, "Cannot expire waiting tasks; trying again")
            }
        }
    }
    expired
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchyard_crds::v1alpha1::AwaitCallback;

    use super::*;

    fn awaiting(outcome: Option<&str>) -> Awaiting {
        let spec = Await {
            correlation: ".body.jobId".into(),
            timeout_seconds: 60,
            on_timeout: Some(AwaitTimeout::Retry),
            callback: Some(AwaitCallback {
                correlation: ".job".into(),
                outcome: outcome.map(str::to_owned),
                message: Some(".error".into()),
                auth: None,
            }),
        };
        Awaiting::new(&spec, "default", &SecretSource::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_correlation_is_a_string_or_a_number_from_the_answer() {
        let awaiting = awaiting(None);
        assert_eq!(
            awaiting.correlation_of(&json!({"body": {"jobId": "j-1"}})),
            Ok("j-1".into())
        );
        assert_eq!(
            awaiting.correlation_of(&json!({"body": {"jobId": 42}})),
            Ok("42".into())
        );
        let missing = awaiting.correlation_of(&json!({"body": {}}));
        assert!(
            matches!(&missing, Err(WaitingError::NoValue { found, .. }) if found == "null"),
            "{missing:?}"
        );
        assert_eq!(awaiting.on_timeout(3), OnTimeout::Retry { max_attempts: 3 });
    }

    #[test]
    fn a_callback_names_its_task_and_says_how_it_ended() {
        let plain = awaiting(None);
        let callback = plain
            .callback
            .as_ref()
            .unwrap_or_else(|| panic!("callback"));
        let (correlation, ack) = callback
            .read(&json!({"job": "j-1"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(correlation, "j-1");
        assert_eq!(ack.outcome, AckOutcome::Done);
        assert_eq!(ack.message, None);

        let judged = awaiting(Some(r#"if .status == "ok" then "done" else false end"#));
        let callback = judged
            .callback
            .as_ref()
            .unwrap_or_else(|| panic!("callback"));
        let (_, ack) = callback
            .read(&json!({"job": 7, "status": "broken", "error": "out of stock"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ack.outcome, AckOutcome::Failed);
        assert_eq!(
            ack.log_line(),
            "Acknowledged by callback: failed (out of stock)"
        );

        let odd = awaiting(Some(".status"));
        let callback = odd.callback.as_ref().unwrap_or_else(|| panic!("callback"));
        assert!(matches!(
            callback.read(&json!({"job": 1, "status": "maybe"})),
            Err(WaitingError::Outcome(_))
        ));
    }
}
