//! Validation of Notifications: one condition, at least one channel, addresses and URLs
//! that parse, SMTP AUTH only over TLS, and references to Routes and Connections of the
//! namespace that exist.

use crate::catalog::Catalog;
use crate::problem::{Origin, Problem, ResourceId};
use crate::v1alpha1::{KindName, NotificationSpec, SmtpTls};
use crate::validate::Checker;

/// Problems of a Notification, its references resolved against `catalog` (whose Routes
/// and Connections are compiled).
pub(crate) fn notification(
    spec: &NotificationSpec,
    catalog: &Catalog,
    origin: &Origin,
    id: &ResourceId,
) -> Vec<Problem> {
    let mut check = Checker::new(origin, id);
    check.secret_refs(spec);
    let rule = &spec.rule;
    check.exactly_one(
        "spec.rule",
        &[
            ("failedTasks", rule.failed_tasks.is_some()),
            ("taskAge", rule.task_age.is_some()),
            ("connectionProbe", rule.connection_probe.is_some()),
            ("circuitOpen", rule.circuit_open.is_some()),
        ],
    );
    let route = |check: &mut Checker<'_>, field: &str, name: &Option<String>| {
        if let Some(name) = name
            && !catalog
                .routes
                .contains_key(&(id.namespace.clone(), name.clone()))
        {
            check.report(field, catalog.unresolved("Route", &id.namespace, name));
        }
    };
    let at_least_one = |check: &mut Checker<'_>, field: &str, value: u64| {
        if value == 0 {
            check.report(field, "must be at least 1");
        }
    };
    if let Some(failed) = &rule.failed_tasks {
        at_least_one(&mut check, "spec.rule.failedTasks.count", failed.count);
        at_least_one(
            &mut check,
            "spec.rule.failedTasks.windowSeconds",
            failed.window_seconds,
        );
        route(&mut check, "spec.rule.failedTasks.route", &failed.route);
    }
    if let Some(age) = &rule.task_age {
        at_least_one(
            &mut check,
            "spec.rule.taskAge.olderThanSeconds",
            age.older_than_seconds,
        );
        route(&mut check, "spec.rule.taskAge.route", &age.route);
    }
    if let Some(probe) = &rule.connection_probe {
        let key = (id.namespace.clone(), probe.connection.clone());
        match catalog.connections.get(&key) {
            None => check.report(
                "spec.rule.connectionProbe.connection",
                catalog.unresolved("Connection", &id.namespace, &probe.connection),
            ),
            Some(connection) => match connection.spec.kind_name() {
                Some(kind @ (KindName::FileSystem | KindName::Soap)) => check.report(
                    "spec.rule.connectionProbe.connection",
                    format!(
                        "Connection `{}` is {kind}; only HTTP and database Connections can be probed",
                        probe.connection,
                    ),
                ),
                Some(KindName::Http | KindName::Database) | None => {}
            },
        }
    }
    if let Some(circuit) = &rule.circuit_open {
        let key = (id.namespace.clone(), circuit.connection.clone());
        match catalog.connections.get(&key) {
            None => check.report(
                "spec.rule.circuitOpen.connection",
                catalog.unresolved("Connection", &id.namespace, &circuit.connection),
            ),
            Some(connection) if connection.spec.circuit_breaker.is_none() => check.report(
                "spec.rule.circuitOpen.connection",
                format!(
                    "Connection `{}` has no `spec.circuitBreaker`: its circuit never opens",
                    circuit.connection
                ),
            ),
            Some(_) => {}
        }
    }
    for (field, value) in [
        ("spec.cooldownSeconds", spec.cooldown_seconds),
        ("spec.intervalSeconds", spec.interval_seconds),
    ] {
        if value == Some(0) {
            check.report(field, "must be at least 1");
        }
    }
    if spec.email.is_none() && spec.webhook.is_none() {
        check.report("spec", "set at least one channel: email, webhook");
    }
    if let Some(email) = &spec.email {
        email_problems(&mut check, email);
    }
    if let Some(webhook) = &spec.webhook {
        check.exactly_one(
            "spec.webhook",
            &[
                ("url", webhook.url.is_some()),
                ("urlFrom", webhook.url_from.is_some()),
            ],
        );
        if let Some(url) = &webhook.url {
            check.url("spec.webhook.url", url);
        }
    }
    check.done()
}

fn email_problems(check: &mut Checker<'_>, email: &crate::v1alpha1::EmailChannel) {
    let smtp = &email.smtp;
    if smtp.host.trim().is_empty() {
        check.report("spec.email.smtp.host", "must not be empty");
    }
    if smtp.port == Some(0) {
        check.report("spec.email.smtp.port", "must be between 1 and 65535");
    }
    if smtp.timeout_seconds == Some(0) {
        check.report("spec.email.smtp.timeoutSeconds", "must be at least 1");
    }
    match (&smtp.username, &smtp.password) {
        (Some(_), None) => check.report(
            "spec.email.smtp.password",
            "is required with `username` (SMTP AUTH needs both)",
        ),
        (None, Some(_)) => check.report(
            "spec.email.smtp.username",
            "is required with `password` (SMTP AUTH needs both)",
        ),
        _ => {}
    }
    if smtp.tls == SmtpTls::None && smtp.password.is_some() {
        check.report(
            "spec.email.smtp.tls",
            "is `none`, but a password is set: SMTP AUTH is only sent over TLS (use `starttls` or `implicit`)",
        );
    }
    if !is_address(&email.from) {
        check.report(
            "spec.email.from",
            format!("`{}` is not an e-mail address", email.from),
        );
    }
    if email.to.is_empty() {
        check.report("spec.email.to", "name at least one recipient");
    }
    for (index, to) in email.to.iter().enumerate() {
        if !is_address(to) {
            check.report(
                format!("spec.email.to[{index}]"),
                format!("`{to}` is not an e-mail address"),
            );
        }
    }
}

/// `local@domain`, optionally as `Name <local@domain>`. The SMTP client parses it again
/// (fully); this catches typos where every consumer of the manifest sees them.
fn is_address(text: &str) -> bool {
    let address = match (text.find('<'), text.strip_suffix('>')) {
        (Some(start), Some(inner)) => &inner[start + 1..],
        _ => text.trim(),
    };
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::manifest::load_str;

    const ROUTE: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp}
spec:
  http: {baseUrl: "https://erp.example.com"}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: orders}
spec:
  incoming: {webhook: {}}
  outgoing: {connection: erp}
"#;

    /// The problems of `notification` (one document) next to a valid Route, as text.
    fn problems(notification: &str) -> Vec<String> {
        let text = format!("{ROUTE}---\n{notification}");
        let (resources, mut problems) = load_str(&text, Some(Path::new("n.yaml")));
        let catalog = Catalog::build(resources);
        problems.extend(catalog.problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_valid_notification_compiles_and_its_secrets_are_mounted() {
        let text = format!(
            "{ROUTE}---\n{}",
            r#"
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {name: orders-failing}
spec:
  rule:
    failedTasks: {count: 3, windowSeconds: 600, route: orders}
  email:
    smtp:
      host: smtp.example.com
      username: alerts
      password: {secretKeyRef: {name: smtp, key: password}}
    from: Switchyard <alerts@example.com>
    to: [ops@example.com]
  webhook:
    urlFrom: {secretKeyRef: {name: slack, key: url}}
    format: slack
"#
        );
        let (resources, problems) = load_str(&text, None);
        assert!(problems.is_empty(), "{problems:?}");
        let catalog = Catalog::build(resources);
        assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);
        assert_eq!(catalog.notifications.len(), 1);
        for (name, key) in [("smtp", "password"), ("slack", "url")] {
            assert!(
                catalog
                    .secret_refs
                    .contains(&("default".into(), name.into(), key.into())),
                "{:?}",
                catalog.secret_refs
            );
        }
    }

    #[test]
    fn bad_notifications_name_file_resource_and_field() {
        let found = problems(
            r#"
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {name: bad}
spec:
  rule:
    failedTasks: {count: 0, windowSeconds: 60, route: nope}
    taskAge: {olderThanSeconds: 60}
  cooldownSeconds: 0
  email:
    smtp:
      host: smtp.example.com
      tls: none
      password: {secretKeyRef: {name: smtp, key: password}}
    from: alerts
    to: []
  webhook:
    url: ftp://hooks.example.com
"#,
        );
        let expected = [
            "field `spec.rule`: set only one of: failedTasks, taskAge, connectionProbe, circuitOpen",
            "field `spec.rule.failedTasks.count`: must be at least 1",
            "field `spec.rule.failedTasks.route`: Route `nope` does not exist in namespace `default`",
            "field `spec.cooldownSeconds`: must be at least 1",
            "field `spec.email.smtp.username`: is required with `password`",
            "field `spec.email.smtp.tls`: is `none`, but a password is set",
            "field `spec.email.from`: `alerts` is not an e-mail address",
            "field `spec.email.to`: name at least one recipient",
            "field `spec.webhook.url`: scheme `ftp` is not supported",
        ];
        for text in expected {
            assert!(
                found.iter().any(|p| p
                    .starts_with("n.yaml (document 3): Notification/default/bad: ")
                    && p.contains(text)),
                "missing {text:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    #[test]
    fn a_rule_without_condition_or_channel_and_a_file_system_probe_are_refused() {
        let found = problems(
            r#"
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {name: empty}
spec:
  rule: {}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: files}
spec:
  fileSystem: {local: {root: /tmp}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {name: probe}
spec:
  rule:
    connectionProbe: {connection: files}
  webhook: {url: "https://hooks.example.com/x"}
---
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {name: circuit}
spec:
  rule:
    circuitOpen: {connection: erp}
  webhook: {url: "https://hooks.example.com/x"}
"#,
        );
        let joined = found.join("\n");
        assert!(
            joined.contains("Notification/default/empty: field `spec.rule`: set exactly one of"),
            "{joined}"
        );
        assert!(
            joined.contains(
                "Notification/default/empty: field `spec`: set at least one channel: email, webhook"
            ),
            "{joined}"
        );
        assert!(joined.contains("Notification/default/probe: field `spec.rule.connectionProbe.connection`: Connection `files` is fileSystem"), "{joined}");
        assert!(joined.contains("Notification/default/circuit: field `spec.rule.circuitOpen.connection`: Connection `erp` has no `spec.circuitBreaker`"), "{joined}");
    }

    #[test]
    fn an_inline_password_is_refused_without_quoting_it() {
        let found = problems(
            r#"
apiVersion: switchyard.dev/v1alpha1
kind: Notification
metadata: {name: inline}
spec:
  rule: {taskAge: {olderThanSeconds: 60}}
  email:
    smtp: {host: smtp.example.com, username: u, password: hunter2-smtp}
    from: a@b.example
    to: [c@d.example]
"#,
        );
        let joined = found.join("\n");
        assert!(
            joined.contains("field `spec.email.smtp.password`"),
            "{joined}"
        );
        assert!(!joined.contains("hunter2-smtp"), "{joined}");
    }

    #[test]
    fn addresses() {
        for good in ["a@b.example", "Ops <ops@shop.example>", "x.y+z@d"] {
            assert!(is_address(good), "{good}");
        }
        for bad in ["", "ops", "@d", "a@", "a b@c", "a@b@c", "Ops <ops>"] {
            assert!(!is_address(bad), "{bad}");
        }
    }
}
