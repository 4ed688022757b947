//! The text of a notification: the same content for every channel, redacted.

use super::state::Send;

/// One message about one Notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub namespace: String,
    pub name: String,
    pub send: Send,
    /// One line (redacted).
    pub summary: String,
    /// What was found (redacted).
    pub details: String,
    /// When (RFC 3339).
    pub at: String,
}

impl Message {
    /// Builds a message; every text passes through the redactor.
    pub fn new(namespace: &str, name: &str, send: Send, summary: &str, details: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            send,
            summary: crate::redact::redact(summary).into_owned(),
            details: crate::redact::redact(details).into_owned(),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    fn tag(&self) -> &'static str {
        match self.send {
            Send::Firing => "FIRING",
            Send::Resolved => "RESOLVED",
        }
    }

    /// The e-mail subject.
    pub fn subject(&self) -> String {
        format!(
            "[{}] {}/{}: {}",
            self.tag(),
            self.namespace,
            self.name,
            self.summary
        )
    }

    /// The e-mail body.
    pub fn body(&self) -> String {
        let what = match self.send {
            Send::Firing => "fires",
            Send::Resolved => "is resolved: its condition no longer holds",
        };
        format!(
            "Notification {}/{} {what}.\n\n{}\n\n{}\n\nAt {} (Switchyard runner).\n",
            self.namespace, self.name, self.summary, self.details, self.at
        )
    }

    /// A chat message (Slack-compatible webhooks).
    pub fn chat_text(&self) -> String {
        format!(
            "[{}] {}/{}: {}\n{}",
            self.tag(),
            self.namespace,
            self.name,
            self.summary,
            self.details
        )
    }
}
