//! Notifications without Alertmanager: a route's tasks fail → an e-mail arrives at a
//! real SMTP server (aiosmtpd, STARTTLS and AUTH) and loopback webhooks get the JSON and
//! Slack forms; the cool-down holds, across a restart too; the condition clears → a
//! "resolved" message; the SMTP password appears nowhere.

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::json;
use switchyard_e2e::receiver::Received;
use switchyard_e2e::servers::smtp::{Mail, SmtpMode, SmtpServer};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

const PASSWORD: &str = "smtp-pass-4d1e9b7c";
const EVALUATIONS: &str = "switchyard_notification_evaluations_total";

/// A throw-away CA and a server certificate for 127.0.0.1: (CA PEM, server PEM, key PEM).
fn certificates() -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Switchyard SMTP test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let server = params.signed_by(&key, &ca).expect("server certificate");
    (ca.pem(), server.pem(), key.serialize_pem())
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|line| format!("{}{line}", " ".repeat(by)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A webhook route whose every task fails at once (one attempt), and two Notifications
/// on it: e-mail + JSON webhook, and a Slack-compatible webhook.
fn manifests(receiver: &str, hooks: &str, smtp: &SmtpServer, tls: &str, ca_pem: &str) -> String {
    let ca = indent(ca_pem, 10);
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec:
  http:
    baseUrl: {receiver}
    timeoutSeconds: 5
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming:
    webhook: {{}}
  outgoing:
    connection: erp
    http:
      path: /orders
  processing:
    retry:
      maxAttempts: 1
---
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {{name: orders-failing}}
spec:
  rule:
    failedTasks: {{count: 2, windowSeconds: 600, route: orders}}
  intervalSeconds: 1
  cooldownSeconds: 3600
  email:
    smtp:
      host: 127.0.0.1
      port: {port}
      tls: {tls}
      username: {username}
      password:
        secretKeyRef: {{name: smtp, key: password}}
      caCertificate: |
{ca}
    from: Switchyard <alerts@shop.example>
    to: [ops@shop.example]
  webhook:
    url: {hooks}/json
---
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {{name: orders-chat}}
spec:
  rule:
    failedTasks: {{count: 2, windowSeconds: 600}}
  intervalSeconds: 1
  webhook:
    url: {hooks}/slack
    format: slack
"#,
        port = smtp.port,
        username = smtp.username,
    )
}

fn secrets_dir() -> tempfile::TempDir {
    switchyard_e2e::secrets_dir(&[("smtp", "password", &format!("{PASSWORD}\n"))])
}

fn hooks_at(hooks: &Receiver, path: &str) -> Vec<Received> {
    hooks
        .received()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// Waits until `runner` evaluated `notification` `more` more times than now.
async fn evaluations_pass(runner: &Runner, notification: &str, more: f64) {
    let labels = [("notification", notification)];
    let start = runner.metric(EVALUATIONS, &labels).await;
    eventually(
        Duration::from_secs(30),
        "more evaluations of the rule",
        || async { (runner.metric(EVALUATIONS, &labels).await >= start + more).then_some(()) },
    )
    .await;
}

/// Waits for `at_least` messages at `smtp`; on time-out, fails with both sides' logs.
async fn mails(smtp: &SmtpServer, runner: &Runner, at_least: usize, what: &str) -> Vec<Mail> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mails = smtp.messages();
        if mails.len() >= at_least {
            return mails;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; runner log:\n{}\nSMTP server log:\n{}",
            runner.log(),
            smtp.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fail_two_orders(runner: &Runner) {
    for id in [1, 2] {
        let (status, _) = runner
            .post_json("/webhooks/default/orders", &json!({"id": id}))
            .await;
        assert_eq!(status, 202, "{}", runner.log());
    }
}

#[tokio::test]
async fn failed_tasks_mail_and_webhooks_with_a_cooldown_and_a_resolved_message() {
    let (ca_pem, server_pem, key_pem) = certificates();
    let Some(smtp) = SmtpServer::start(
        SmtpMode::Starttls,
        &server_pem,
        &key_pem,
        "switchyard",
        PASSWORD,
    )
    .await
    else {
        return;
    };
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 400,
        body: r#"{"error":"bad order"}"#.into(),
        headers: vec![],
    })
    .await;
    let hooks = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let dir = manifest_dir(&[(
        "all.yaml",
        &manifests(
            &receiver.base_url(),
            &hooks.base_url(),
            &smtp,
            "starttls",
            &ca_pem,
        ),
    )]);
    let secrets = secrets_dir();
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..RunnerOptions::default()
    };
    let mut runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    // Nothing fails yet: no message.
    evaluations_pass(&runner, "orders-failing", 2.0).await;
    assert!(smtp.messages().is_empty());
    assert_eq!(hooks.count(), 0);

    fail_two_orders(&runner).await;
    let sent = mails(&smtp, &runner, 1, "the firing e-mail").await;
    let mail = &sent[0];
    assert!(mail.tls && mail.authenticated, "{mail:?}");
    assert_eq!(mail.from, "alerts@shop.example");
    assert_eq!(mail.to, ["ops@shop.example"]);
    assert!(
        mail.data.contains(
            "Subject: [FIRING] default/orders-failing: 2 failed task(s) of route `orders`"
        ),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("bad order"),
        "the last error: {}",
        mail.data
    );
    let json_hook = eventually(Duration::from_secs(10), "the JSON webhook", || async {
        hooks_at(&hooks, "/json").first().cloned()
    })
    .await;
    assert_eq!(json_hook.body["state"], "firing", "{:?}", json_hook.body);
    assert_eq!(json_hook.body["notification"], "orders-failing");
    assert_eq!(json_hook.body["namespace"], "default");
    let slack = eventually(Duration::from_secs(10), "the Slack webhook", || async {
        hooks_at(&hooks, "/slack").first().cloned()
    })
    .await;
    let text = slack.body["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("[FIRING] default/orders-chat: "), "{text}");
    assert_eq!(
        slack.body.as_object().map(|o| o.len()),
        Some(1),
        "{:?}",
        slack.body
    );

    // The cool-down holds while the rule keeps firing, across a restart too (the state
    // is in the queue database).
    evaluations_pass(&runner, "orders-failing", 3.0).await;
    runner.terminate();
    let first_log = runner.log();
    let mut runner = Runner::restart(runner_bin!(), dir.path(), &runner.data_dir, &options).await;
    evaluations_pass(&runner, "orders-failing", 3.0).await;
    assert_eq!(smtp.messages().len(), 1, "{:?}", smtp.messages());
    assert_eq!(hooks_at(&hooks, "/json").len(), 1);
    assert_eq!(hooks_at(&hooks, "/slack").len(), 1);

    // The receiver is fixed and the failed tasks retried: the rule clears.
    receiver.set_mode(ReceiverMode::Accept {
        delay: Duration::ZERO,
    });
    let (status, answer) = runner
        .post_json(
            "/api/v1/namespaces/default/routes/orders/retry-failed",
            &json!({}),
        )
        .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let sent = mails(&smtp, &runner, 2, "the resolved e-mail").await;
    assert!(
        sent[1]
            .data
            .contains("Subject: [RESOLVED] default/orders-failing"),
        "{}",
        sent[1].data
    );
    let resolved = eventually(Duration::from_secs(10), "the resolved webhook", || async {
        hooks_at(&hooks, "/json").get(1).cloned()
    })
    .await;
    assert_eq!(resolved.body["state"], "resolved");
    eventually(
        Duration::from_secs(10),
        "the resolved Slack message",
        || async { hooks_at(&hooks, "/slack").get(1).cloned() },
    )
    .await;
    let sent_metric = runner
        .metric(
            "switchyard_notifications_sent_total",
            &[("notification", "orders-failing"), ("state", "resolved")],
        )
        .await;
    assert_eq!(sent_metric, 2.0, "e-mail and webhook");

    // The password is nowhere: not in either run's log, not in a message.
    runner.terminate();
    let log = format!("{first_log}{}", runner.log());
    assert!(log.contains("Notification sent"), "{log}");
    assert!(!log.contains(PASSWORD), "{log}");
    for mail in smtp.messages() {
        assert!(!mail.data.contains(PASSWORD));
    }
    for hook in hooks.received() {
        assert!(!hook.body.to_string().contains(PASSWORD));
    }
}

#[tokio::test]
async fn implicit_tls_mail_arrives_and_a_failing_webhook_is_a_logged_failure() {
    let (ca_pem, server_pem, key_pem) = certificates();
    let Some(smtp) = SmtpServer::start(
        SmtpMode::Implicit,
        &server_pem,
        &key_pem,
        "switchyard",
        PASSWORD,
    )
    .await
    else {
        return;
    };
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 400,
        body: "no".into(),
        headers: vec![],
    })
    .await;
    let hooks = Receiver::start(ReceiverMode::Answer {
        status: 503,
        body: "down".into(),
        headers: vec![],
    })
    .await;
    let dir = manifest_dir(&[(
        "all.yaml",
        &manifests(
            &receiver.base_url(),
            &hooks.base_url(),
            &smtp,
            "implicit",
            &ca_pem,
        ),
    )]);
    let secrets = secrets_dir();
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..RunnerOptions::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    fail_two_orders(&runner).await;
    let sent = mails(&smtp, &runner, 1, "the firing e-mail over implicit TLS").await;
    // The server speaks TLS only (aiosmtpd does not mark implicit-TLS sessions as such).
    assert!(sent[0].authenticated, "{:?}", sent[0]);
    let labels = [("notification", "orders-failing"), ("channel", "webhook")];
    eventually(Duration::from_secs(30), "a failed webhook send", || async {
        (runner
            .metric("switchyard_notification_send_failures_total", &labels)
            .await
            >= 1.0)
            .then_some(())
    })
    .await;
    // The Slack-only rule had no channel that took it: tried again at the next
    // evaluations.
    eventually(
        Duration::from_secs(30),
        "the Slack message tried again",
        || async { (hooks_at(&hooks, "/slack").len() >= 2).then_some(()) },
    )
    .await;
    let log = runner.log();
    assert!(log.contains("Notification not sent"), "{log}");
    assert!(log.contains("the receiver answered 503"), "{log}");
    assert!(!log.contains(PASSWORD), "{log}");
    // The e-mail took the message of `orders-failing`: it counts as sent, once.
    evaluations_pass(&runner, "orders-failing", 2.0).await;
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(hooks_at(&hooks, "/json").len(), 1);
}

#[tokio::test]
async fn an_open_circuit_fires_and_its_closing_resolves() {
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 503,
        body: "down".into(),
        headers: vec![],
    })
    .await;
    let hooks = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec:
  http: {{baseUrl: "{receiver}", timeoutSeconds: 5}}
  circuitBreaker: {{consecutiveFailures: 2, openSeconds: 1}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: erp, http: {{path: /orders}}}}
  processing:
    retry: {{maxAttempts: 1000, initialBackoffMs: 100, maxBackoffMs: 200}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {{name: erp-circuit}}
spec:
  rule:
    circuitOpen: {{connection: erp}}
  intervalSeconds: 1
  webhook: {{url: "{hooks}/circuit"}}
"#,
        receiver = receiver.base_url(),
        hooks = hooks.base_url(),
    );
    let dir = manifest_dir(&[("all.yaml", &manifests)]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    fail_two_orders(&runner).await;
    let firing = eventually(
        Duration::from_secs(30),
        "the circuit-open message",
        || async { hooks_at(&hooks, "/circuit").first().cloned() },
    )
    .await;
    assert_eq!(firing.body["state"], "firing", "{:?}", firing.body);
    let summary = firing.body["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("the circuit of Connection `erp` is "),
        "{summary}"
    );
    receiver.set_mode(ReceiverMode::Accept {
        delay: Duration::ZERO,
    });
    let resolved = eventually(
        Duration::from_secs(30),
        "the circuit-closed message",
        || async { hooks_at(&hooks, "/circuit").get(1).cloned() },
    )
    .await;
    assert_eq!(resolved.body["state"], "resolved", "{:?}", resolved.body);
    assert!(
        resolved.body["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("is closed"),
        "{:?}",
        resolved.body
    );
}
