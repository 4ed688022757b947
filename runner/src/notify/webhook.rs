//! The webhook channel: a JSON POST, generic or Slack-compatible (`{"text": …}`).

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_crds::v1alpha1::{WebhookChannel, WebhookFormat};

use super::NotifyError;
use super::message::Message;
use crate::secrets::SecretSource;

/// Time a webhook receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A ready webhook client for one Notification.
pub struct WebhookSender {
    client: reqwest::Client,
    url: reqwest::Url,
    format: WebhookFormat,
}

impl WebhookSender {
    pub fn build(
        webhook: &WebhookChannel,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, NotifyError> {
        let (field, text) = match (&webhook.url, &webhook.url_from) {
            (Some(url), _) => ("spec.webhook.url", url.clone()),
            (None, Some(secret)) => (
                "spec.webhook.urlFrom",
                secrets
                    .resolve(namespace, secret)
                    .map_err(|source| NotifyError::Secret {
                        field: "spec.webhook.urlFrom".to_owned(),
                        source: Box::new(source),
                    })?
                    .expose()
                    .to_owned(),
            ),
            (None, None) => {
                return Err(NotifyError::Config {
                    field: "spec.webhook".to_owned(),
                    message: "set exactly one of: url, urlFrom".to_owned(),
                });
            }
        };
        // Never quote the text: from a Secret, it is one.
        let url = reqwest::Url::parse(&text).map_err(|e| NotifyError::Config {
            field: field.to_owned(),
            message: format!("is not a valid URL: {e}"),
        })?;
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| NotifyError::Config {
                field: field.to_owned(),
                message: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Self {
            client,
            url,
            format: webhook.format,
        })
    }

    /// The body for `message` in this webhook's format.
    pub fn body(&self, message: &Message) -> Value {
        match self.format {
            WebhookFormat::Json => json!({
                "notification": message.name,
                "namespace": message.namespace,
                "state": message.send.as_str(),
                "summary": message.summary,
                "details": message.details,
                "at": message.at,
            }),
            WebhookFormat::Slack => json!({ "text": message.chat_text() }),
        }
    }

    pub async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        let failed = |message: String| NotifyError::Send {
            channel: "webhook",
            message,
        };
        let response = self
            .client
            .post(self.url.clone())
            .json(&self.body(message))
            .send()
            .await
            // The URL may be a secret (Slack's carry a token): left out of the error.
            .map_err(|e| failed(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(failed(format!("the receiver answered {status}")))
        }
    }
}
