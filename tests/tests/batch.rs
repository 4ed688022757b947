//! Outgoing batches: tasks leased together go out as one HTTP request (a JSON array or
//! JSON Lines) or one file; a batch that is not full waits `maxWaitMs` for more; a jq
//! program maps the receiver's per-item results back to the tasks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin, serve,
};

fn route(connection: &str, outgoing: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: target}}
spec: {connection}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: items}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {outgoing}
"#
    )
}

fn items(ids: std::ops::Range<u64>) -> Value {
    json!(ids.map(|id| json!({"id": id})).collect::<Vec<_>>())
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
async fn queued_tasks_go_out_as_json_array_requests_of_at_most_max_items() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &route(
            &format!("{{http: {{baseUrl: \"{}\"}}}}", receiver.base_url()),
            "{connection: target, http: {path: /bulk, batch: {maxItems: 10}}}",
        ),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let (status, answer) = runner
        .post_json("/webhooks/default/items", &items(0..25))
        .await;
    assert_eq!(status, 202, "{answer}");
    eventually(Duration::from_secs(20), "25 tasks done", || async {
        (runner.counts("items").await["done"] == 25).then_some(())
    })
    .await;
    let requests = receiver.received();
    let mut ids: Vec<u64> = Vec::new();
    for request in &requests {
        assert_eq!(request.path, "/bulk");
        assert_eq!(
            request.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
        let key = request.headers.get("idempotency-key").cloned();
        assert!(key.is_some_and(|k| k.starts_with("batch-")), "{request:?}");
        let batch = request.body.as_array().cloned().unwrap_or_default();
        assert!((1..=10).contains(&batch.len()), "{:?}", request.body);
        ids.extend(batch.iter().filter_map(|item| item["id"].as_u64()));
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..25).collect::<Vec<_>>());
    // Leased together, they went out in as few requests as maxItems allows.
    assert!(requests.len() <= 4, "{} requests", requests.len());
    let first = answer["taskIds"][0].as_str().unwrap_or_default();
    let log = task_log(&runner, first).await;
    assert!(
        log.iter()
            .any(|l| l.contains("→ 200 OK") && l.contains("items")),
        "{log:#?}"
    );
}

#[tokio::test]
async fn a_batch_that_is_not_full_waits_for_more_tasks() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &route(
            &format!("{{http: {{baseUrl: \"{}\"}}}}", receiver.base_url()),
            "{connection: target, http: {path: /bulk, batch: {maxItems: 5, maxWaitMs: 3000}}}",
        ),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    // Five webhook calls of one item each, one after the other.
    for id in 0..5 {
        let (status, _) = runner
            .post_json("/webhooks/default/items", &json!({"id": id}))
            .await;
        assert_eq!(status, 202);
    }
    eventually(Duration::from_secs(20), "5 tasks done", || async {
        (runner.counts("items").await["done"] == 5).then_some(())
    })
    .await;
    let requests = receiver.received();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].body.as_array().map(Vec::len), Some(5));
}

/// A bulk API that answers `{"items": [{"ok": …, "error": …}]}` for JSON Lines: item 3
/// is refused.
async fn bulk_api(bodies: Arc<Mutex<Vec<String>>>) -> String {
    let app = Router::new().route(
        "/bulk",
        post(move |headers: HeaderMap, body: String| {
            let bodies = bodies.clone();
            async move {
                assert_eq!(
                    headers.get("content-type").and_then(|v| v.to_str().ok()),
                    Some("application/x-ndjson")
                );
                bodies.lock().expect("bodies").push(body.clone());
                let results: Vec<Value> = body
                    .lines()
                    .map(|line| {
                        let item: Value = serde_json::from_str(line).unwrap_or_default();
                        if item["id"] == 3 {
                            json!({"ok": false, "error": "sku 3 is unknown"})
                        } else {
                            json!({"ok": true})
                        }
                    })
                    .collect();
                axum::Json(json!({ "items": results }))
            }
        }),
    );
    serve(app).await
}

#[tokio::test]
async fn per_item_results_settle_each_task_of_a_json_lines_batch() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let base = bulk_api(bodies.clone()).await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &route(
            &format!("{{http: {{baseUrl: \"{base}\"}}}}"),
            r#"{connection: target, http: {path: /bulk, batch: {maxItems: 50, format: jsonLines, results: '[.body.items[] | {ok, message: .error}]'}}}"#,
        ),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let (status, answer) = runner
        .post_json("/webhooks/default/items", &items(1..6))
        .await;
    assert_eq!(status, 202, "{answer}");
    eventually(Duration::from_secs(20), "4 done, 1 failed", || async {
        let counts = runner.counts("items").await;
        (counts["done"] == 4 && counts["failed"] == 1).then_some(())
    })
    .await;
    let sent = bodies.lock().expect("bodies").clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].lines().count(), 5);
    let failed = runner
        .get_json("/api/v1/namespaces/default/tasks?state=failed")
        .await;
    let task = &failed["tasks"][0];
    let error = task["lastError"].as_str().unwrap_or_default();
    assert!(
        error.contains("item 3 was refused: sku 3 is unknown"),
        "{task}"
    );
    let id = task["id"].as_str().unwrap_or_default();
    assert_eq!(answer["taskIds"][2], id, "the third task failed");
}

#[tokio::test]
async fn a_file_batch_writes_one_file_for_the_tasks_leased_together() {
    let out = tempfile::tempdir().expect("out dir");
    let dir = manifest_dir(&[(
        "route.yaml",
        &route(
            &format!(
                "{{fileSystem: {{local: {{root: \"{}\"}}}}}}",
                out.path().display()
            ),
            r#"{connection: target, file: {path: "export/orders-{{ .id }}.jsonl", format: jsonLines, batch: {maxItems: 100}}}"#,
        ),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let (status, answer) = runner
        .post_json("/webhooks/default/items", &items(0..30))
        .await;
    assert_eq!(status, 202, "{answer}");
    eventually(Duration::from_secs(20), "30 tasks done", || async {
        (runner.counts("items").await["done"] == 30).then_some(())
    })
    .await;
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(out.path().join("export"))
        .expect("export dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert!(files.len() <= 2, "{files:?}");
    let mut ids: Vec<u64> = files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["id"].as_u64())
                .collect::<Vec<_>>()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..30).collect::<Vec<_>>());
    assert!(
        out.path().join("export/orders-0.jsonl").exists(),
        "{files:?}"
    );
}
