//! Back-pressure: a route past its `maxPending` refuses new items (webhooks 429 with
//! `Retry-After`, polls skip their tick) and takes them again once its receiver drains
//! the queue; a queue volume below its free-space floor answers 503. Nothing already
//! accepted is touched.

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, free_port, manifest_dir, runner_bin,
    serve,
};

const MAX_PENDING: u64 = 20;

fn webhook_route(base_url: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: receiver}}
spec:
  http: {{baseUrl: "{base_url}", timeoutSeconds: 5}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: items}}
spec:
  incoming:
    webhook: {{}}
  outgoing:
    connection: receiver
    http: {{path: /items}}
  processing:
    maxPending: {MAX_PENDING}
    retry: {{maxAttempts: 1000, initialBackoffMs: 100, maxBackoffMs: 500}}
"#
    )
}

async fn post(runner: &Runner, body: &Value) -> (u16, Option<String>, Value) {
    let response = runner
        .client
        .post(runner.url("/webhooks/default/items"))
        .json(body)
        .send()
        .await
        .expect("POST webhook");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn metrics(runner: &Runner) -> String {
    runner
        .client
        .get(runner.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text")
}

#[tokio::test]
async fn a_full_route_answers_429_until_its_receiver_drains_the_queue() {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let manifests = manifest_dir(&[("route.yaml", &webhook_route(&base_url))]);
    let runner = Runner::start(runner_bin!(), manifests.path(), &RunnerOptions::default()).await;

    // The receiver is down: every task stays undelivered.
    for id in 0..MAX_PENDING {
        let (status, _, answer) = post(&runner, &json!({"id": id})).await;
        assert_eq!(status, 202, "item {id}: {answer}");
    }
    let (status, retry_after, answer) = post(&runner, &json!({"id": "one too many"})).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(retry_after.as_deref(), Some("5"));
    assert_eq!(answer["code"], "too_many_pending", "{answer}");
    assert_eq!(
        answer["limit"],
        json!({"name": "maxPending", "value": MAX_PENDING, "current": MAX_PENDING, "route": "items"}),
        "{answer}"
    );
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("spec.processing.maxPending") && error.contains("already queued are kept"),
        "{error}"
    );
    // Nothing accepted was touched, nothing refused was queued.
    let counts = runner.counts("items").await;
    let undelivered =
        counts["pending"].as_u64().unwrap_or(0) + counts["processing"].as_u64().unwrap_or(0);
    assert_eq!(undelivered, MAX_PENDING, "{counts}");
    assert!(
        metrics(&runner)
            .await
            .contains(r#"switchyard_intake_rejections_total{namespace="default",reason="full",route="items",source="webhook"} 1"#),
        "{}",
        metrics(&runner).await
    );

    // The receiver comes back and drains the queue: the route takes items again.
    let receiver = Receiver::start_on(
        port,
        ReceiverMode::Accept {
            delay: Duration::ZERO,
        },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the webhook to accept again",
        || async {
            let (status, _, _) = post(&runner, &json!({"id": "after the drain"})).await;
            (status == 202).then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "every accepted item delivered",
        || async { (receiver.count() as u64 == MAX_PENDING + 1).then_some(()) },
    )
    .await;
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| r.body["id"] != "one too many")
    );

    // The OpenAPI document lists the answer.
    let openapi = runner.get_json("/openapi.json").await;
    let responses = &openapi["paths"]["/webhooks/{namespace}/{route}"]["post"]["responses"];
    assert!(responses["429"].is_object(), "{responses}");
}

#[tokio::test]
async fn a_full_polling_route_skips_its_ticks_and_says_so_in_the_next_run() {
    let source = serve(Router::new().route(
        "/records",
        get(|| async { Json(json!([{"id": 1}, {"id": 2}, {"id": 3}])) }),
    ))
    .await;
    let port = free_port();
    let manifests = manifest_dir(&[(
        "route.yaml",
        &format!(
            r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: source}}
spec:
  http: {{baseUrl: "{source}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: receiver}}
spec:
  http: {{baseUrl: "http://127.0.0.1:{port}", timeoutSeconds: 5}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: records}}
spec:
  incoming:
    poll:
      connection: source
      schedule: "* * * * * *"
      request: {{path: /records}}
  outgoing:
    connection: receiver
  processing:
    retry: {{maxAttempts: 1000, initialBackoffMs: 100, maxBackoffMs: 500}}
"#
        ),
    )]);
    // The tenant default, as the operator passes it.
    let options = RunnerOptions {
        env: vec![("SWITCHYARD_MAX_PENDING".into(), "3".into())],
        ..RunnerOptions::default()
    };
    let runner = Runner::start(runner_bin!(), manifests.path(), &options).await;

    // The first tick fills the route; the next ones are skipped.
    let skipped = r#"switchyard_intake_rejections_total{namespace="default",reason="full",route="records",source="poll"}"#;
    eventually(Duration::from_secs(30), "two skipped ticks", || async {
        let text = metrics(&runner).await;
        text.lines()
            .find(|l| l.starts_with(skipped))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n >= 2)
    })
    .await;
    let counts = runner.counts("records").await;
    let undelivered =
        counts["pending"].as_u64().unwrap_or(0) + counts["processing"].as_u64().unwrap_or(0);
    assert_eq!(undelivered, 3, "{counts}");
    assert!(runner.log().contains("Poll skipped by back-pressure"));

    // The receiver drains the queue: polling resumes, and its tasks' log tells of the
    // skipped ticks.
    let receiver = Receiver::start_on(
        port,
        ReceiverMode::Accept {
            delay: Duration::ZERO,
        },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "a poll after the drain",
        || async { (receiver.count() >= 6).then_some(()) },
    )
    .await;
    let tasks = runner
        .get_json("/api/v1/namespaces/default/tasks?route=records")
        .await;
    let ids: Vec<String> = tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect();
    let mut noted = false;
    for id in ids {
        let task = runner
            .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
            .await;
        noted |= task["log"].as_array().into_iter().flatten().any(|l| {
            l["message"].as_str().is_some_and(|m| {
                m.contains("Back-pressure: the poll skipped") && m.contains("maxPending")
            })
        });
    }
    assert!(noted, "no task of a later poll tells of the skipped ticks");
}

#[tokio::test]
async fn below_the_disk_floor_webhooks_answer_503_and_queue_nothing() {
    let manifests = manifest_dir(&[("route.yaml", &webhook_route("http://127.0.0.1:9"))]);
    // A floor no disk has free.
    let options = RunnerOptions {
        env: vec![(
            "SWITCHYARD_MIN_FREE_DISK_MIB".into(),
            "1000000000000".into(),
        )],
        ..RunnerOptions::default()
    };
    let runner = Runner::start(runner_bin!(), manifests.path(), &options).await;
    let (status, retry_after, answer) = post(&runner, &json!({"id": 1})).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(retry_after.as_deref(), Some("30"));
    assert_eq!(answer["code"], "low_disk_space", "{answer}");
    assert_eq!(answer["limit"]["name"], "minFreeDiskMebibytes", "{answer}");
    assert_eq!(answer["limit"]["value"], 1_000_000_000_000_u64, "{answer}");
    let counts = runner.counts("items").await;
    assert_eq!(counts["pending"], 0, "{counts}");
}
