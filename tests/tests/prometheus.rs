//! The chart's alert rules against real Prometheus tooling (Debian's `prometheus`
//! package: `promtool` and the server; `scripts/test.sh` installs it):
//! - `promtool test rules` runs the unit tests of every alert
//!   (`tests/prometheus/rules.test.yaml`) on the rules as the chart renders them;
//! - a real Prometheus scrapes a real runner whose route fails, whose queue stalls and
//!   whose deliveries hang, and the chart's rules fire;
//! - every metric name a rule or a dashboard uses is exported by the runner or the
//!   operator.
//!
//! The rules come from `helm template` of the operator chart (helm from
//! `scripts/helm.sh`). Without helm or Prometheus the tests print `SKIPPED` locally and
//! fail under `CI=true`.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::servers::prometheus::{Prometheus, binary};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, free_port, helm, manifest_dir, runner_bin,
};

/// The rule groups of the chart's PrometheusRule, as a Prometheus rule file.
fn rules(values: &[&str]) -> Option<String> {
    let mut set = vec!["prometheusRule.enabled=true"];
    set.extend_from_slice(values);
    let objects = helm::render("switchyard-operator", &set)?;
    let rule = objects
        .iter()
        .find(|o| o["kind"] == "PrometheusRule")
        .expect("the chart renders a PrometheusRule");
    Some(serde_yaml::to_string(&rule["spec"]).expect("rules as YAML"))
}

#[test]
fn promtool_unit_tests_of_every_alert_pass() {
    let (Some(promtool), Some(rules)) = (binary("promtool"), rules(&[])) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("rules.yaml"), &rules).expect("write rules");
    let tests = helm::root().join("tests/prometheus/rules.test.yaml");
    let text = std::fs::read_to_string(&tests).expect("rules.test.yaml");
    std::fs::write(dir.path().join("rules.test.yaml"), &text).expect("copy tests");

    let check = Command::new(&promtool)
        .args(["check", "rules", "rules.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("promtool runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    // Every alert of the chart has a unit test.
    let alerts: BTreeSet<String> = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .map(str::to_owned)
        .collect();
    assert!(alerts.len() >= 9, "{alerts:?}");
    for alert in &alerts {
        assert!(
            text.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          - "
            )),
            "rules.test.yaml has no firing case for {alert}"
        );
    }

    let run = Command::new(&promtool)
        .args(["test", "rules", "rules.test.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("promtool runs");
    assert!(
        run.status.success(),
        "promtool test rules failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Three routes: `failing` delivers to a receiver that answers 500, `stalled` delivers
/// once a year, `hanging` to a receiver that never answers.
fn manifests(failing_url: &str, hanging_url: &str, ok_url: &str) -> String {
    let connection = |name: &str, url: &str| {
        format!(
            "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: {name}}}\n\
             spec:\n  http:\n    baseUrl: {url}\n    timeoutSeconds: 600\n---\n"
        )
    };
    let route = |name: &str, connection: &str, processing: &str| {
        format!(
            "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\n\
             spec:\n  incoming:\n    webhook: {{}}\n  transformers:\n    incoming:\n      - jq: '{{id}}'\n\
             \x20 outgoing:\n    connection: {connection}\n    http:\n      path: /items\n\
             \x20 processing: {processing}\n---\n"
        )
    };
    [
        connection("broken", failing_url),
        connection("slow", hanging_url),
        connection("fine", ok_url),
        route(
            "failing",
            "broken",
            // Retried for as long as the test runs: attempts keep failing.
            "{retry: {maxAttempts: 1000, initialBackoffMs: 200, maxBackoffMs: 500}}",
        ),
        route(
            "stalled",
            "fine",
            r#"{mode: scheduled, schedule: "0 0 0 1 1 *"}"#,
        ),
        route("hanging", "slow", "{maxConcurrency: 2}"),
    ]
    .concat()
}

/// Whether an alert named `name` with these labels fires.
fn fires(firing: &[Value], name: &str, labels: &[(&str, &str)]) -> bool {
    firing
        .iter()
        .any(|alert| alert["alertname"] == name && labels.iter().all(|(k, v)| alert[*k] == *v))
}

#[tokio::test]
async fn the_shipped_rules_fire_against_a_real_prometheus_scraping_a_runner() {
    // The chart's rules with test thresholds: short windows, no waiting periods.
    let Some(rules) = rules(&[
        "prometheusRule.rateWindow=15s",
        "prometheusRule.deliveriesFailing.for=1s",
        "prometheusRule.queueAge.seconds=3",
        "prometheusRule.queueAge.for=1s",
        "prometheusRule.stuckProcessing.for=1s",
        "prometheusRule.runnerDown.for=1s",
        "prometheusRule.webhookRejections.perMinute=1",
        "prometheusRule.webhookRejections.for=1s",
    ]) else {
        return;
    };
    if binary("prometheus").is_none() {
        return;
    }
    let failing = Receiver::start(ReceiverMode::Answer {
        status: 500,
        body: "{\"error\": \"down\"}".into(),
        headers: Vec::new(),
    })
    .await;
    let hanging = Receiver::start(ReceiverMode::Accept {
        delay: Duration::from_secs(600),
    })
    .await;
    let fine = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let dir = manifest_dir(&[(
        "routes.yaml",
        &manifests(&failing.base_url(), &hanging.base_url(), &fine.base_url()),
    )]);
    // Leases outlast the test: the hanging deliveries stay `processing`.
    let options = RunnerOptions {
        lease_seconds: Some(600),
        ..RunnerOptions::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    // A second runner target that does not answer: "runner down".
    let dead = format!("127.0.0.1:{}", free_port());
    let Some(prometheus) = Prometheus::start(
        &rules,
        &[(
            "switchyard-runners",
            vec![format!("127.0.0.1:{}", runner.port), dead.clone()],
        )],
    )
    .await
    else {
        return;
    };

    for route in ["failing", "stalled", "hanging"] {
        let items: Vec<Value> = (0..4).map(|id| json!({"id": id})).collect();
        let (status, answer) = runner
            .post_json(&format!("/webhooks/default/{route}"), &json!(items))
            .await;
        assert_eq!(status, 202, "{route}: {answer}");
    }
    // Bodies that are not JSON, a few a second while the test waits: rejections.
    let client = reqwest::Client::new();
    let reject = || async {
        let answer = client
            .post(runner.url("/webhooks/default/failing"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("runner answers");
        assert_eq!(answer.status().as_u16(), 400);
    };

    let expected: [(&str, Vec<(&str, &str)>); 5] = [
        ("SwitchyardDeliveriesFailing", vec![("route", "failing")]),
        ("SwitchyardQueueStalled", vec![("route", "stalled")]),
        ("SwitchyardTasksStuckProcessing", vec![("route", "hanging")]),
        (
            "SwitchyardWebhookRejections",
            vec![("route", "failing"), ("reason", "body")],
        ),
        ("SwitchyardRunnerDown", vec![("instance", dead.as_str())]),
    ];
    let deadline = Instant::now() + Duration::from_secs(120);
    let firing = loop {
        let firing = prometheus.firing().await;
        let missing: Vec<&str> = expected
            .iter()
            .filter(|(name, labels)| !fires(&firing, name, labels))
            .map(|(name, _)| *name)
            .collect();
        if missing.is_empty() {
            break firing;
        }
        assert!(
            Instant::now() < deadline,
            "not firing after 120 s: {missing:?}; firing: {firing:#?}\nalerts: {:#}\nrunner metrics:\n{}",
            prometheus.api("alerts").await,
            reqwest::get(runner.url("/metrics"))
                .await
                .expect("metrics")
                .text()
                .await
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("switchyard_"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        reject().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // The route that delivers nothing yet fails nothing: no failure alert for it.
    assert!(
        !fires(
            &firing,
            "SwitchyardDeliveriesFailing",
            &[("route", "stalled")]
        ),
        "{firing:#?}"
    );
    assert!(
        !fires(
            &firing,
            "SwitchyardRunnerDown",
            &[("instance", &format!("127.0.0.1:{}", runner.port))]
        ),
        "{firing:#?}"
    );
    // The annotations come through, with the runbook link.
    let alerts = prometheus.api("alerts").await;
    let failing_alert = alerts["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["labels"]["alertname"] == "SwitchyardDeliveriesFailing")
        .expect("the alert");
    assert!(
        failing_alert["annotations"]["runbook_url"]
            .as_str()
            .is_some_and(|url| url.ends_with("docs/metrics.md#switchyarddeliveriesfailing")),
        "{failing_alert}"
    );
    drop(prometheus);
    drop(hanging);
}

/// Metric names in PromQL text: `switchyard_…` and `process_…`.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (start, _) in text.match_indices(['s', 'p']) {
        let rest = &text[start..];
        if !(rest.starts_with("switchyard_") || rest.starts_with("process_"))
            || text[..start]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        names.insert(name);
    }
    names
}

/// The metric names of an exposition (`# TYPE` lines), with a histogram's series.
fn exported(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            names.insert(name.to_owned());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

#[tokio::test]
async fn every_metric_a_rule_or_dashboard_uses_is_exported() {
    let Some(objects) = helm::render(
        "switchyard-operator",
        &["prometheusRule.enabled=true", "dashboards.enabled=true"],
    ) else {
        return;
    };
    let mut used = BTreeSet::new();
    let mut dashboards = 0;
    for object in &objects {
        if object["kind"] == "PrometheusRule" {
            used.extend(names_in(&object["spec"].to_string()));
        }
        if object["kind"] == "ConfigMap" && object["metadata"]["labels"]["grafana_dashboard"] == "1"
        {
            for (file, text) in object["data"].as_object().expect("data") {
                let dashboard: Value = serde_json::from_str(text.as_str().expect("text"))
                    .unwrap_or_else(|e| panic!("{file} is not valid JSON: {e}"));
                assert!(
                    dashboard["title"].is_string() && dashboard["uid"].is_string(),
                    "{file}"
                );
                assert!(
                    dashboard["panels"]
                        .as_array()
                        .is_some_and(|p| !p.is_empty()),
                    "{file} has no panels"
                );
                used.extend(names_in(text.as_str().unwrap_or_default()));
                dashboards += 1;
            }
        }
    }
    assert_eq!(
        dashboards, 4,
        "tenant overview, route detail, connections, operator"
    );

    // A runner that has seen a webhook item, a transformer step and a rejection.
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let dir = manifest_dir(&[(
        "routes.yaml",
        &manifests(
            &receiver.base_url(),
            &receiver.base_url(),
            &receiver.base_url(),
        ),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let (status, _) = runner
        .post_json("/webhooks/default/failing", &json!([{"id": 1}]))
        .await;
    assert_eq!(status, 202);
    let answer = reqwest::Client::new()
        .post(runner.url("/webhooks/default/failing"))
        .body("{not json")
        .send()
        .await
        .expect("runner answers");
    assert_eq!(answer.status().as_u16(), 400);
    let exposition = reqwest::get(runner.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let mut available = exported(&exposition);
    available.extend(exported(&switchyard_operator::metrics::render()));

    let missing: Vec<&String> = used.difference(&available).collect();
    assert!(
        missing.is_empty(),
        "used by a rule or dashboard but not exported: {missing:?}"
    );
    assert!(used.len() > 20, "{used:?}");
}
