//! A Connection's circuit breaker against a loopback receiver that fails, then recovers:
//! consecutive failures open the circuit, held tasks spend no attempts, exactly one
//! trial goes out after each cool-down, success closes it and every item arrives; a
//! `429` with `Retry-After` pauses every route of the Connection, not only one task.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

/// Cool-down of the test Connection.
const OPEN_SECONDS: u64 = 3;
/// Slack for the timer when comparing request times with a cool-down.
const SLACK: Duration = Duration::from_millis(150);

/// A Connection `erp` with a circuit breaker and webhook routes delivering through it,
/// one request at a time, with quick retries.
fn manifests(base_url: &str, breaker: &str, routes: &[&str]) -> String {
    let mut text = format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: erp}}\nspec:\n  http: {{baseUrl: \"{base_url}\", timeoutSeconds: 5}}\n  circuitBreaker: {breaker}\n"
    );
    for route in routes {
        text.push_str(&format!(
            "---\napiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {{name: {route}}}\nspec:\n  incoming: {{webhook: {{}}}}\n  outgoing:\n    connection: erp\n    http: {{path: \"/{route}/{{{{ .id }}}}\"}}\n  processing:\n    maxConcurrency: 1\n    retry: {{maxAttempts: 100, initialBackoffMs: 100, maxBackoffMs: 200}}\n"
        ));
    }
    text
}

fn items(n: usize) -> Value {
    json!((0..n).map(|id| json!({"id": id})).collect::<Vec<_>>())
}

fn failing() -> ReceiverMode {
    ReceiverMode::Answer {
        status: 503,
        body: "down for maintenance".into(),
        headers: vec![],
    }
}

fn accepting() -> ReceiverMode {
    ReceiverMode::Accept {
        delay: Duration::ZERO,
    }
}

async fn circuit(runner: &Runner) -> Value {
    let connection = runner
        .get_json("/api/v1/namespaces/default/connections/erp")
        .await;
    connection["circuit"].clone()
}

async fn circuit_in(runner: &Runner, state: &str) -> Value {
    eventually(
        Duration::from_secs(20),
        &format!("the circuit {state}"),
        || async {
            let circuit = circuit(runner).await;
            (circuit["state"] == state).then_some(circuit)
        },
    )
    .await
}

/// Every task of `route`, as the task list answers.
async fn tasks(runner: &Runner, route: &str) -> Vec<Value> {
    let page = runner
        .get_json(&format!(
            "/api/v1/namespaces/default/tasks?route={route}&limit=100"
        ))
        .await;
    page["tasks"].as_array().cloned().unwrap_or_default()
}

async fn attempts(runner: &Runner, route: &str) -> i64 {
    tasks(runner, route)
        .await
        .iter()
        .map(|t| t["attempts"].as_i64().unwrap_or(0))
        .sum()
}

async fn task_log(runner: &Runner, id: &str) -> Vec<String> {
    let task = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await;
    task["log"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn failures_open_the_circuit_one_trial_per_cool_down_and_success_closes_it() {
    let receiver = Receiver::start(failing()).await;
    let dir = manifest_dir(&[(
        "all.yaml",
        &manifests(
            &receiver.base_url(),
            &format!("{{consecutiveFailures: 3, openSeconds: {OPEN_SECONDS}}}"),
            &["orders"],
        ),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let closed = circuit(&runner).await;
    assert_eq!(closed["state"], "closed", "{closed}");

    let (status, answer) = runner
        .post_json("/webhooks/default/orders", &items(10))
        .await;
    assert_eq!(status, 202, "{answer}");

    // Three failures in a row open it; nothing more is sent while it is open.
    let open = circuit_in(&runner, "open").await;
    assert!(
        open["since"].is_string() && open["until"].is_string(),
        "{open}"
    );
    assert!(
        open["reason"]
            .as_str()
            .is_some_and(|r| r.contains("3 failures in a row") && r.contains("503")),
        "{open}"
    );
    assert_eq!(receiver.count(), 3, "requests before the circuit opened");
    // Only the three tasks that were sent spent an attempt; the others wait for free.
    // Tasks the worker had leased ahead go back to pending just after the circuit
    // opened (their lease counted an attempt until then), so wait for that hand-back.
    eventually(
        Duration::from_secs(10),
        "leased-ahead tasks handed back without an attempt",
        || async { (attempts(&runner, "orders").await == 3).then_some(()) },
    )
    .await;
    assert_eq!(receiver.count(), 3, "requests while the circuit is open");
    let metrics = runner
        .client
        .get(runner.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("switchyard_circuit_state{")
                && l.contains("connection=\"erp\"")
                && l.contains("state=\"open\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );

    // After the cool-down exactly one trial; it fails, so the circuit opens again.
    eventually(Duration::from_secs(20), "the first trial", || async {
        (receiver.count() == 4).then_some(())
    })
    .await;
    let reopened = circuit_in(&runner, "open").await;
    assert_eq!(reopened["since"], open["since"], "{reopened}");
    assert!(
        reopened["reason"]
            .as_str()
            .is_some_and(|r| r.contains("trial")),
        "{reopened}"
    );

    // The system recovers: the next trial closes the circuit and everything arrives.
    receiver.set_mode(accepting());
    eventually(Duration::from_secs(30), "all ten delivered", || async {
        (runner.counts("orders").await["done"] == 10).then_some(())
    })
    .await;
    let closed = circuit_in(&runner, "closed").await;
    assert!(closed.get("since").is_none(), "{closed}");

    let received = receiver.received();
    // Four failures (three, then a failed trial), then each item once.
    assert_eq!(received.len(), 14, "{received:#?}");
    let cool_down = Duration::from_secs(OPEN_SECONDS) - SLACK;
    assert!(
        received[3].at.duration_since(received[2].at) >= cool_down,
        "the first trial went out before the cool-down was over"
    );
    assert!(
        received[4].at.duration_since(received[3].at) >= cool_down,
        "the second trial went out before the cool-down was over"
    );
    let delivered: std::collections::BTreeSet<String> =
        received[4..].iter().map(|r| r.path.clone()).collect();
    assert_eq!(delivered.len(), 10, "{delivered:?}");
    // One attempt per request: no task spent an attempt while the circuit was open.
    assert_eq!(attempts(&runner, "orders").await, 14);

    // The task logs say what happened.
    let mut logs = Vec::new();
    for id in answer["taskIds"].as_array().expect("task ids") {
        logs.extend(task_log(&runner, id.as_str().expect("id")).await);
    }
    assert!(
        logs.iter().any(|l| l.contains("trial delivery")),
        "{logs:#?}"
    );
    let log = runner.log();
    assert!(
        log.contains("Circuit opened") && log.contains("Circuit state changed"),
        "{log}"
    );
}

#[tokio::test]
async fn retry_after_pauses_every_route_of_the_connection() {
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 429,
        body: "slow down".into(),
        headers: vec![("Retry-After".into(), OPEN_SECONDS.to_string())],
    })
    .await;
    let dir = manifest_dir(&[(
        "all.yaml",
        // Failures alone would not open it soon: the pause is the receiver's ask.
        &manifests(
            &receiver.base_url(),
            "{consecutiveFailures: 50}",
            &["orders", "invoices"],
        ),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;

    let (status, _) = runner
        .post_json("/webhooks/default/orders", &items(1))
        .await;
    assert_eq!(status, 202);
    let paused = circuit_in(&runner, "open").await;
    assert!(
        paused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Retry-After") && r.contains("429")),
        "{paused}"
    );
    assert_eq!(receiver.count(), 1);

    // The receiver would accept now, but it asked for a pause: the other route's tasks
    // wait for it too, without spending attempts.
    receiver.set_mode(accepting());
    let (status, _) = runner
        .post_json("/webhooks/default/invoices", &items(5))
        .await;
    assert_eq!(status, 202);
    eventually(Duration::from_secs(20), "all delivered", || async {
        let done = runner.counts("orders").await["done"] == 1
            && runner.counts("invoices").await["done"] == 5;
        done.then_some(())
    })
    .await;
    let received = receiver.received();
    assert_eq!(received.len(), 7, "{received:#?}");
    let pause = Duration::from_secs(OPEN_SECONDS) - SLACK;
    for later in &received[1..] {
        assert!(
            later.at.duration_since(received[0].at) >= pause,
            "{} went out during the pause",
            later.path
        );
    }
    assert_eq!(attempts(&runner, "invoices").await, 5);
    assert_eq!(attempts(&runner, "orders").await, 2);
    let closed = circuit_in(&runner, "closed").await;
    assert_eq!(closed["consecutiveFailures"], 0, "{closed}");
}
