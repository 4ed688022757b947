//! The e-mail channel: SMTP through `lettre` (STARTTLS, implicit TLS or plain; AUTH
//! PLAIN/LOGIN with a password from a Secret), rustls with `ring`.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use switchyard_crds::v1alpha1::{EmailChannel, PemValue, SmtpTls};

use super::NotifyError;
use crate::secrets::SecretSource;

/// Default time to wait for the SMTP server.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A ready SMTP client for one Notification.
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl EmailSender {
    /// Builds the client: addresses parsed, CA and password resolved (and registered
    /// with the redactor).
    pub fn build(
        email: &EmailChannel,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, NotifyError> {
        let invalid = |field: &str, message: String| NotifyError::Config {
            field: field.to_owned(),
            message,
        };
        let smtp = &email.smtp;
        let from: Mailbox = email
            .from
            .parse()
            .map_err(|e| invalid("spec.email.from", format!("`{}`: {e}", email.from)))?;
        let to = email
            .to
            .iter()
            .enumerate()
            .map(|(index, to)| {
                to.parse::<Mailbox>().map_err(|e| {
                    invalid(&format!("spec.email.to[{index}]"), format!("`{to}`: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tls_parameters = || {
            let mut builder = TlsParameters::builder(smtp.host.clone());
            if let Some(ca) = &smtp.ca_certificate {
                let pem = match ca {
                    PemValue::Inline(text) => text.clone(),
                    PemValue::Secret(secret) => secrets
                        .resolve(namespace, secret)
                        .map_err(|source| NotifyError::Secret {
                            field: "spec.email.smtp.caCertificate".to_owned(),
                            source: Box::new(source),
                        })?
                        .expose()
                        .to_owned(),
                };
                let certificate = Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                    invalid(
                        "spec.email.smtp.caCertificate",
                        format!("is not a PEM certificate: {e}"),
                    )
                })?;
                builder = builder.add_root_certificate(certificate);
            }
            builder
                .build_rustls()
                .map_err(|e| invalid("spec.email.smtp.tls", e.to_string()))
        };
        let (tls, default_port) = match smtp.tls {
            SmtpTls::Starttls => (Tls::Required(tls_parameters()?), 587),
            SmtpTls::Implicit => (Tls::Wrapper(tls_parameters()?), 465),
            SmtpTls::None => (Tls::None, 25),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port.unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(
                smtp.timeout_seconds
                    .map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            ));
        if let (Some(username), Some(password)) = (&smtp.username, &smtp.password) {
            let password =
                secrets
                    .resolve(namespace, password)
                    .map_err(|source| NotifyError::Secret {
                        field: "spec.email.smtp.password".to_owned(),
                        source: Box::new(source),
                    })?;
            crate::redact::register_basic(username, password.expose());
            builder = builder
                .credentials(Credentials::new(
                    username.clone(),
                    password.expose().to_owned(),
                ))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(Self {
            transport: builder.build(),
            from,
            to,
        })
    }

    /// Sends one message with `subject` and a plain-text `body`.
    pub async fn send(&self, subject: &str, body: &str) -> Result<(), NotifyError> {
        let mut message = Message::builder().from(self.from.clone());
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| NotifyError::Send {
                channel: "email",
                message: format!("cannot build the message: {e}"),
            })?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| NotifyError::Send {
                channel: "email",
                message: e.to_string(),
            })
    }
}
