//! Notifications without Alertmanager: one background task evaluates every
//! Notification rule of the runtime on its interval and sends a message by e-mail and/or
//! webhook when a rule fires (at most once per cool-down) and when it clears.
//!
//! State (firing, announced, last message) lives in the queue database
//! (`notification_state`), so a restarted runner does not send again what it sent, and
//! every change is a compare-and-set, so of several replicas on one PostgreSQL queue one
//! sends. A message that no channel could send leaves the state as it was: the next
//! evaluation tries again. One channel that succeeds counts as sent.

mod condition;
mod email;
pub mod events;
mod message;
mod state;
mod store;
mod webhook;

pub use store::{SqlNotifications, StoreError};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_crds::catalog::{CompiledNotification, Key};
use switchyard_crds::problem::{FieldProblem, Origin, ResourceId};
use switchyard_crds::v1alpha1::{
    DEFAULT_NOTIFICATION_COOLDOWN_SECONDS, DEFAULT_NOTIFICATION_INTERVAL_SECONDS, NotificationRule,
};

use crate::engine::Engine;
use crate::queue::now_ms;
use crate::secrets::{SecretError, SecretSource};
use email::EmailSender;
use message::Message;
use webhook::WebhookSender;

/// How often the background task looks for rules that are due.
const TICK: Duration = Duration::from_secs(1);

/// Why a Notification cannot be built or a message not sent. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The manifest holds something the runner cannot use.
    #[error("field `{field}`: {message}")]
    Config { field: String, message: String },
    /// A `secretKeyRef` gave no value.
    #[error("field `{field}`: {source}")]
    Secret {
        field: String,
        #[source]
        source: Box<SecretError>,
    },
    /// A channel failed to deliver a message.
    #[error("{channel}: {message}")]
    Send {
        channel: &'static str,
        message: String,
    },
}

impl NotifyError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Config { .. } => "notify_config",
            Self::Secret { .. } => "notify_secret",
            Self::Send { .. } => "notify_send",
        }
    }
}

impl From<NotifyError> for FieldProblem {
    fn from(error: NotifyError) -> Self {
        match error {
            NotifyError::Config { field, message } => FieldProblem::new(field, message),
            NotifyError::Secret { field, source } => FieldProblem::new(field, source),
            send @ NotifyError::Send { .. } => FieldProblem::whole(send),
        }
    }
}

/// One Notification, ready to evaluate and send.
pub struct NotificationRuntime {
    pub key: Key,
    pub id: ResourceId,
    pub origin: Origin,
    rule: NotificationRule,
    interval: Duration,
    cooldown_ms: i64,
    email: Option<EmailSender>,
    webhook: Option<WebhookSender>,
}

impl NotificationRuntime {
    /// Builds the channels (secrets resolved and registered with the redactor).
    pub fn build(
        compiled: &CompiledNotification,
        secrets: &SecretSource,
    ) -> Result<Self, NotifyError> {
        let spec = &compiled.spec;
        let namespace = &compiled.id.namespace;
        let cooldown = spec
            .cooldown_seconds
            .unwrap_or(DEFAULT_NOTIFICATION_COOLDOWN_SECONDS);
        Ok(Self {
            key: (namespace.clone(), compiled.id.name.clone()),
            id: compiled.id.clone(),
            origin: compiled.origin.clone(),
            rule: spec.rule.clone(),
            interval: Duration::from_secs(
                spec.interval_seconds
                    .unwrap_or(DEFAULT_NOTIFICATION_INTERVAL_SECONDS),
            ),
            cooldown_ms: i64::try_from(cooldown.saturating_mul(1_000)).unwrap_or(i64::MAX / 2),
            email: spec
                .email
                .as_ref()
                .map(|email| EmailSender::build(email, namespace, secrets))
                .transpose()?,
            webhook: spec
                .webhook
                .as_ref()
                .map(|webhook| WebhookSender::build(webhook, namespace, secrets))
                .transpose()?,
        })
    }

    fn namespace(&self) -> &str {
        &self.key.0
    }

    fn name(&self) -> &str {
        &self.key.1
    }

    /// Sends `message` on every channel; whether at least one took it.
    async fn deliver(&self, message: &Message) -> bool {
        let state = message.send.as_str();
        let mut delivered = false;
        let mut outcome = |channel: &str, result: Result<(), NotifyError>| match result {
            Ok(()) => {
                events::sent(self.namespace(), self.name(), channel, state);
                delivered = true;
            }
            Err(error) => {
                events::send_failed(self.namespace(), self.name(), channel, state, &error)
            }
        };
        if let Some(email) = &self.email {
            outcome(
                "email",
                email.send(&message.subject(), &message.body()).await,
            );
        }
        if let Some(webhook) = &self.webhook {
            outcome("webhook", webhook.send(message).await);
        }
        delivered
    }
}

/// Evaluates every Notification of the engine's current runtime when it is due, until
/// the process stops. Reloads take effect at the next tick.
pub async fn run(engine: Arc<Engine>, store: SqlNotifications) {
    let mut due: HashMap<Key, Instant> = HashMap::new();
    loop {
        let runtime = engine.runtime();
        for notification in &runtime.notifications {
            let now = Instant::now();
            if due.get(&notification.key).is_some_and(|at| *at > now) {
                continue;
            }
            due.insert(notification.key.clone(), now + notification.interval);
            evaluate_once(notification, &runtime, &store).await;
        }
        due.retain(|key, _| runtime.notifications.iter().any(|n| &n.key == key));
        tokio::time::sleep(TICK).await;
    }
}

/// One evaluation of one rule, and the message it calls for.
pub async fn evaluate_once(
    notification: &NotificationRuntime,
    runtime: &crate::runtime::Runtime,
    store: &SqlNotifications,
) {
    let (namespace, name) = (notification.namespace(), notification.name());
    let now = now_ms();
    let observation =
        match condition::evaluate(&notification.rule, namespace, runtime, store, now).await {
            Ok(observation) => observation,
            Err(error) => return events::evaluation_failed(namespace, name, &error),
        };
    events::evaluated(namespace, name, Some(observation.holds));
    let stored = match store.load(&notification.key).await {
        Ok(stored) => stored,
        Err(error) => return events::evaluation_failed(namespace, name, &error),
    };
    let (state, send) = state::next(
        stored.state,
        observation.holds,
        now,
        notification.cooldown_ms,
    );
    if state == stored.state && send.is_none() {
        return;
    }
    if send.is_none() && state.firing && !stored.state.firing {
        events::held_back(namespace, name);
    }
    let changed = match store.change(&notification.key, stored, state, now).await {
        // Another replica changed the state first: it sends.
        Ok(None) => return,
        Ok(Some(changed)) => changed,
        Err(error) => return events::evaluation_failed(namespace, name, &error),
    };
    let Some(send) = send else { return };
    let message = Message::new(
        namespace,
        name,
        send,
        &observation.summary,
        &observation.details,
    );
    if !notification.deliver(&message).await {
        // Nothing went out: back to the state before, so the next evaluation tries
        // again (the cool-down counts from the last message actually sent).
        if let Err(error) = store
            .change(&notification.key, changed, stored.state, now)
            .await
        {
            events::evaluation_failed(namespace, name, &error);
        }
    }
}
