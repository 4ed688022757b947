//! The queue as an API: inspect, retry, discard, retry all failed, trigger; permanent
//! and temporary failures; API authentication.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin, scenario,
};

const API_TOKEN: &str = "api-token-for-tests";

async fn task(runner: &Runner, id: &str) -> Value {
    runner
        .client
        .get(runner.url(&format!("/api/v1/namespaces/default/tasks/{id}")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .expect("GET task")
        .json()
        .await
        .expect("JSON task")
}

async fn post_api(runner: &Runner, path: &str, body: Value) -> (u16, Value) {
    let response = runner
        .client
        .post(runner.url(path))
        .bearer_auth(API_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("POST");
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn wait_state(runner: &Runner, id: &str, state: &str) -> Value {
    eventually(
        Duration::from_secs(20),
        &format!("task {id} to be {state}"),
        || async {
            let task = task(runner, id).await;
            (task["state"] == state).then_some(task)
        },
    )
    .await
}

fn messages(task: &Value) -> Vec<String> {
    task["log"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|m| m["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn failed_tasks_wait_for_a_human_who_can_retry_or_discard_them() {
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 422,
        body: "unknown customer".into(),
        headers: vec![],
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 4),
    )]);
    let options = RunnerOptions {
        env: vec![("SWITCHYARD_API_TOKEN".into(), API_TOKEN.into())],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;

    // The API requires the token; webhooks use their own auth.
    let unauthenticated = runner
        .client
        .get(runner.url("/api/v1/namespaces/default/routes"))
        .send()
        .await
        .expect("GET");
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/items",
            &json!([{"id": 1}, {"id": 2}, {"id": 3}]),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let ids: Vec<String> = answer["taskIds"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();

    // A 422 is permanent: failed at the first attempt, the response in the log.
    for id in &ids {
        let failed = wait_state(&runner, id, "failed").await;
        assert_eq!(failed["attempts"], 1);
        let log = messages(&failed);
        assert!(
            log.last()
                .is_some_and(|l| l.contains("answered 422 Unprocessable Entity")
                    && l.contains("unknown customer")
                    && l.contains("not retriable")),
            "{log:?}"
        );
    }

    // Discard one, with why; who is the authenticated caller, never a body field.
    let (status, answer) = post_api(
        &runner,
        &format!("/api/v1/namespaces/default/tasks/{}/discard", ids[0]),
        json!({"actor": "mallory", "reason": "test order"}),
    )
    .await;
    assert_eq!(
        (status, answer["code"].clone()),
        (400, json!("bad_request")),
        "{answer}"
    );
    let (status, answer) = post_api(
        &runner,
        &format!("/api/v1/namespaces/default/tasks/{}/discard", ids[0]),
        json!({"reason": "test order"}),
    )
    .await;
    assert_eq!((status, answer["state"].clone()), (200, json!("skipped")));
    assert!(
        messages(&task(&runner, &ids[0]).await)
            .last()
            .is_some_and(|l| l == "Discarded by api-token (token): test order")
    );
    // A skipped task cannot be discarded again.
    let (status, answer) = post_api(
        &runner,
        &format!("/api/v1/namespaces/default/tasks/{}/discard", ids[0]),
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "{answer}");

    // The receiver is fixed; retry one task, then all failed ones of the route.
    receiver.set_mode(ReceiverMode::Accept {
        delay: Duration::ZERO,
    });
    let (status, _) = post_api(
        &runner,
        &format!("/api/v1/namespaces/default/tasks/{}/retry", ids[1]),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let done = wait_state(&runner, &ids[1], "done").await;
    assert!(
        messages(&done)
            .iter()
            .any(|l| l.starts_with("Retry requested by api-token (token)"))
    );
    let (status, answer) = post_api(
        &runner,
        "/api/v1/namespaces/default/routes/items/retry-failed",
        json!({}),
    )
    .await;
    assert_eq!((status, answer["count"].clone()), (200, json!(1)));
    wait_state(&runner, &ids[2], "done").await;

    // Listing: filters and cursor pages.
    let page = |query: String| {
        let runner = &runner;
        async move {
            runner
                .client
                .get(runner.url(&format!("/api/v1/namespaces/default/tasks?{query}")))
                .bearer_auth(API_TOKEN)
                .send()
                .await
                .expect("GET")
                .json::<Value>()
                .await
                .expect("JSON")
        }
    };
    let first = page("route=items&limit=2".into()).await;
    assert_eq!(first["tasks"].as_array().map(Vec::len), Some(2));
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = page(format!("route=items&limit=2&cursor={cursor}")).await;
    assert_eq!(second["tasks"][0]["id"], json!(ids[2]));
    assert!(second.get("nextCursor").is_none());
    let skipped = page("state=skipped".into()).await;
    assert_eq!(skipped["tasks"][0]["id"], json!(ids[0]));
    let bad = runner
        .client
        .get(runner.url("/api/v1/namespaces/default/tasks?state=lost"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn retry_after_is_honoured_and_transform_errors_refuse_the_request() {
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 429,
        body: "slow down".into(),
        headers: vec![("Retry-After".into(), "3".into())],
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 4),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;

    let (status, answer) = runner
        .post_json("/webhooks/default/items", &json!({"id": 7}))
        .await;
    assert_eq!(status, 202);
    let id = answer["taskIds"][0].as_str().expect("id").to_owned();
    let waiting = eventually(
        Duration::from_secs(10),
        "a first failed attempt",
        || async {
            let task = runner
                .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
                .await;
            (task["state"] == "pending" && task["attempts"] == 1).then_some(task)
        },
    )
    .await;
    let delay = waiting["nextAttemptAtMs"].as_i64().unwrap_or(0)
        - waiting["updatedAtMs"].as_i64().unwrap_or(0);
    assert!(
        delay >= 2_900,
        "the receiver asked for 3 s, the runner waits {delay} ms"
    );
    assert!(
        messages(&waiting)
            .iter()
            .any(|l| l.contains("429 Too Many Requests: slow down"))
    );

    // The route's jq keeps {id, payload}; an item whose id is an object still passes,
    // but a body whose incoming pipeline fails is refused whole with the item and step.
    let transformer = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: strict}
spec:
  incoming:
    webhook: {}
  transformers:
    incoming:
      - jq: '.total + 1'
  outgoing:
    connection: receiver
"#;
    std::fs::write(dir.path().join("strict.yaml"), transformer).expect("write manifest");
    // The file change is picked up without a restart.
    eventually(
        Duration::from_secs(20),
        "the new route after reload",
        || async {
            let (status, _) = runner
                .post_json("/webhooks/default/strict", &json!([]))
                .await;
            (status == 202).then_some(())
        },
    )
    .await;
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/strict",
            &json!([{"total": 1}, {"total": "x"}]),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("nothing was queued: item 1: incoming step 1 (jq) failed"),
        "{error}"
    );
    assert_eq!(runner.counts("strict").await["pending"], 0);
    // The task queued before the reload is still there and still retried.
    let task = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await;
    assert_eq!(task["route"], "items");
}
