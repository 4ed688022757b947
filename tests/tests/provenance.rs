//! Provenance and replay: a task keeps the item as received and the item after each
//! incoming step; after a transformer is fixed (a reload), replaying the failed task
//! from the broken step produces a new, delivered task linked to the old one. On SQLite
//! and on PostgreSQL.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::{
    ApiTokens, Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

const VIEWER: &str = "viewer-token-for-provenance";
const EDITOR: &str = "editor-token-for-provenance";

/// A route whose second incoming step computes `total`; `total` is the jq for it.
fn route(base_url: &str, total: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec:
  http:
    baseUrl: {base_url}
    timeoutSeconds: 5
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming:
    webhook: {{}}
  transformers:
    incoming:
      - jq: '{{order: .id, lines: .lines}}'
      - jq: '. + {{total: {total}}}'
  outgoing:
    connection: erp
    http:
      path: /orders
  processing:
    retry:
      maxAttempts: 1
"#
    )
}

async fn call(
    runner: &Runner,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = runner
        .client
        .request(method, runner.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("API call");
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn task_in_state(runner: &Runner, id: &str, state: &str) -> Value {
    let path = format!("/api/v1/namespaces/default/tasks/{id}");
    eventually(
        Duration::from_secs(20),
        &format!("task {id} to be {state}"),
        || async {
            let (_, task) = call(runner, reqwest::Method::GET, &path, VIEWER, None).await;
            (task["state"] == state).then_some(task)
        },
    )
    .await
}

async fn failed_task_is_kept_with_its_steps_and_replayed_after_the_fix(queue_url: Option<String>) {
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 422,
        body: "total does not match the lines".into(),
        headers: vec![],
    })
    .await;
    let dir = manifest_dir(&[("route.yaml", &route(&receiver.base_url(), "0"))]);
    let tokens = ApiTokens::write(&[("vera", "viewer", VIEWER), ("eddie", "editor", EDITOR)]);
    let options = RunnerOptions {
        queue_url,
        env: vec![tokens.env()],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let sent = json!({"id": "A-17", "lines": [3, 4], "note": "as sent"});
    let (status, answer) = runner.post_json("/webhooks/default/orders", &sent).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["taskIds"][0].as_str().expect("id").to_owned();

    // The failed task shows what the sender sent and what each step made of it.
    let failed = task_in_state(&runner, &id, "failed").await;
    let provenance = &failed["provenance"];
    assert_eq!(provenance["received"], sent, "{failed}");
    assert_eq!(provenance["keepSteps"], "failed");
    let steps = provenance["steps"].as_array().expect("kept steps");
    assert_eq!(steps.len(), 2, "{provenance}");
    assert_eq!(
        (
            steps[0]["step"].clone(),
            steps[0]["kind"].clone(),
            steps[0]["items"].clone()
        ),
        (
            json!(1),
            json!("jq"),
            json!([{"order": "A-17", "lines": [3, 4]}])
        )
    );
    assert_eq!(
        steps[1]["items"],
        json!([{"order": "A-17", "lines": [3, 4], "total": 0}])
    );
    assert_eq!(failed["item"], steps[1]["items"][0]);

    // A viewer may look but not replay.
    let replay = format!("/api/v1/namespaces/default/tasks/{id}/replay");
    let (status, body) = call(
        &runner,
        reqwest::Method::POST,
        &replay,
        VIEWER,
        Some(json!({"fromStep": 2})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["requiredRole"], "editor");

    // Fix the second step (a reload) and the receiver, then replay from that step.
    std::fs::write(
        dir.path().join("route.yaml"),
        route(&receiver.base_url(), "(.lines | add)"),
    )
    .expect("rewrite");
    eventually(Duration::from_secs(20), "the fix to be loaded", || async {
        let (_, page) = call(
            &runner,
            reqwest::Method::GET,
            "/api/v1/namespaces/default/audit?action=reload",
            VIEWER,
            None,
        )
        .await;
        page["events"].get(0).cloned()
    })
    .await;
    receiver.set_mode(ReceiverMode::Accept {
        delay: Duration::ZERO,
    });
    let (status, body) = call(
        &runner,
        reqwest::Method::POST,
        &replay,
        EDITOR,
        Some(json!({"fromStep": 5})),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("bad_request")),
        "{body}"
    );
    let (status, body) = call(
        &runner,
        reqwest::Method::POST,
        &replay,
        EDITOR,
        Some(json!({"fromStep": 2})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["replayOf"], json!(id));
    let new_id = body["taskIds"][0].as_str().expect("new task").to_owned();
    assert_eq!(body["taskIds"].as_array().map(Vec::len), Some(1), "{body}");

    // The new task is delivered with the fixed total, and both tasks name each other.
    let done = task_in_state(&runner, &new_id, "done").await;
    assert_eq!(
        done["item"],
        json!({"order": "A-17", "lines": [3, 4], "total": 7})
    );
    assert_eq!(done["source"], "replay");
    assert_eq!(
        done["provenance"]["replayOf"],
        json!({"task": id, "fromStep": 2})
    );
    assert_eq!(done["provenance"]["received"], sent);
    let delivered: Vec<Value> = receiver.received().into_iter().map(|r| r.body).collect();
    assert!(
        delivered.contains(&json!({"order": "A-17", "lines": [3, 4], "total": 7})),
        "{delivered:?}"
    );
    let (_, old) = call(
        &runner,
        reqwest::Method::GET,
        &format!("/api/v1/namespaces/default/tasks/{id}"),
        VIEWER,
        None,
    )
    .await;
    assert_eq!(old["provenance"]["replays"], json!([new_id]));
    assert_eq!(
        old["state"], "failed",
        "the replayed task is left as it was"
    );

    // The replay is audited with the editor's identity.
    let (_, page) = call(
        &runner,
        reqwest::Method::GET,
        "/api/v1/namespaces/default/audit?action=replay",
        VIEWER,
        None,
    )
    .await;
    let event = &page["events"][0];
    assert_eq!(
        (
            event["actor"].clone(),
            event["target"].clone(),
            event["detail"]["taskIds"].clone()
        ),
        (json!("eddie (token)"), json!(id), json!([new_id])),
        "{page}"
    );
}

#[tokio::test]
async fn sqlite_failed_task_is_kept_with_its_steps_and_replayed_after_the_fix() {
    failed_task_is_kept_with_its_steps_and_replayed_after_the_fix(None).await;
}

#[tokio::test]
async fn postgres_failed_task_is_kept_with_its_steps_and_replayed_after_the_fix() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    failed_task_is_kept_with_its_steps_and_replayed_after_the_fix(Some(database.url.clone())).await;
    database.drop_now().await;
}

/// A one-object body is kept as the item as received in the text it was sent as (its
/// bytes counted as sent); the same order in an array is kept as the parsed item. Either
/// reads back as the order, and a replay from step 1 starts from it.
#[tokio::test]
async fn the_item_as_received_is_kept_as_sent() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let dir = manifest_dir(&[("route.yaml", &route(&receiver.base_url(), "(.lines | add)"))]);
    let tokens = ApiTokens::write(&[("vera", "viewer", VIEWER), ("eddie", "editor", EDITOR)]);
    let options = RunnerOptions {
        env: vec![tokens.env()],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let order = json!({"id": "A-18", "lines": [1, 2], "note": "quote \" and ünïcode"});
    let pretty = serde_json::to_string_pretty(&order).expect("pretty");
    let as_object = format!("\n  {pretty}\r\n");
    let as_array = format!("[{pretty}]");
    let mut ids = Vec::new();
    for body in [&as_object, &as_array] {
        let response = runner
            .client
            .post(runner.url("/webhooks/default/orders"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("webhook");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.expect("answer");
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["taskIds"][0].as_str().expect("id").to_owned());
    }
    let kept = task_in_state(&runner, &ids[0], "done").await;
    assert_eq!(kept["provenance"]["received"], order, "{kept}");
    assert_eq!(
        kept["provenance"]["receivedBytes"],
        json!(pretty.len()),
        "the object's bytes as sent, without the whitespace around it"
    );
    let parsed = task_in_state(&runner, &ids[1], "done").await;
    assert_eq!(parsed["provenance"]["received"], order, "{parsed}");
    assert_eq!(
        parsed["provenance"]["receivedBytes"],
        json!(order.to_string().len()),
        "an element of an array: the bytes of its JSON"
    );

    let (status, body) = call(
        &runner,
        reqwest::Method::POST,
        &format!("/api/v1/namespaces/default/tasks/{}/replay", ids[0]),
        EDITOR,
        Some(json!({"fromStep": 1})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let new_id = body["taskIds"][0].as_str().expect("new task").to_owned();
    let replayed = task_in_state(&runner, &new_id, "done").await;
    assert_eq!(
        replayed["item"],
        json!({"order": "A-18", "lines": [1, 2], "total": 3})
    );
    assert_eq!(replayed["provenance"]["received"], order);
}
