//! Waiting tasks: a receiver that accepts jobs and confirms them later. After the send
//! a task is `waiting` with the job id from the answer; the API's `ack`, an
//! authenticated callback carrying the job id, or the timeout ends the wait. On the
//! SQLite and the PostgreSQL queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::{Runner, RunnerOptions, eventually, manifest_dir, runner_bin, serve};

const CALLBACK_TOKEN: &str = "callback-token-5f2a";

/// A job API: `POST /jobs` answers 202 `{"jobId": "job-<id>"}`; counts the requests.
async fn job_api(requests: Arc<AtomicUsize>) -> String {
    let app = Router::new().route(
        "/jobs",
        post(move |Json(item): Json<Value>| {
            let requests = requests.clone();
            async move {
                requests.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::ACCEPTED,
                    Json(json!({"jobId": format!("job-{}", item["id"])})),
                )
            }
        }),
    );
    serve(app).await
}

fn manifests(base_url: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: jobs}}
spec: {{http: {{baseUrl: "{base_url}"}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: jobs}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing:
    connection: jobs
    http: {{path: /jobs}}
    await:
      correlation: .body.jobId
      timeoutSeconds: 600
      callback:
        correlation: .job
        outcome: '.status == "ok"'
        message: .error
        auth: {{token: {{secretKeyRef: {{name: callback, key: token}}}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: impatient}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing:
    connection: jobs
    http: {{path: /jobs}}
    await: {{correlation: .body.jobId, timeoutSeconds: 1, onTimeout: retry}}
  processing:
    retry: {{maxAttempts: 2}}
"#
    )
}

async fn start(queue_url: Option<String>) -> (Runner, Arc<AtomicUsize>, tempfile::TempDir) {
    let requests = Arc::new(AtomicUsize::new(0));
    let base = job_api(requests.clone()).await;
    let dir = manifest_dir(&[("routes.yaml", &manifests(&base))]);
    std::fs::create_dir_all(dir.path().join("secrets/callback")).expect("secrets dir");
    std::fs::write(dir.path().join("secrets/callback/token"), CALLBACK_TOKEN).expect("token");
    let options = RunnerOptions {
        queue_url,
        secrets_dir: Some(dir.path().join("secrets")),
        ..RunnerOptions::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    (runner, requests, dir)
}

async fn task(runner: &Runner, id: &str) -> Value {
    runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await
}

async fn callback(runner: &Runner, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = runner
        .client
        .post(runner.url("/callbacks/default/jobs"))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("callback");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn acknowledgements_end_the_wait(runner: &Runner) {
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/jobs",
            &json!([{"id": 1}, {"id": 2}, {"id": 3}]),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let ids: Vec<String> = answer["taskIds"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    eventually(Duration::from_secs(20), "three waiting tasks", || async {
        (runner.counts("jobs").await["waiting"] == 3).then_some(())
    })
    .await;
    let first = task(runner, &ids[0]).await;
    assert_eq!(first["state"], "waiting", "{first}");
    assert_eq!(first["correlation"], "job-1", "{first}");
    let waiting = runner
        .get_json("/api/v1/namespaces/default/tasks?state=waiting&route=jobs")
        .await;
    assert_eq!(waiting["tasks"].as_array().map(Vec::len), Some(3));

    // The API acknowledges the first; a second acknowledgement is refused.
    let ack = json!({"outcome": "done", "message": "confirmed by phone"});
    let path = format!("/api/v1/namespaces/default/tasks/{}/ack", ids[0]);
    let (status, answer) = runner.post_json(&path, &ack).await;
    assert_eq!(
        (status, &answer["state"]),
        (200, &json!("done")),
        "{answer}"
    );
    let (status, answer) = runner.post_json(&path, &ack).await;
    assert_eq!(status, 409, "{answer}");

    // The callback needs its token, and names tasks by job id.
    let (status, _) = callback(runner, None, &json!({"job": "job-2", "status": "ok"})).await;
    assert_eq!(status, 401);
    let (status, answer) = callback(
        runner,
        Some(CALLBACK_TOKEN),
        &json!({"job": "job-9", "status": "ok"}),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = callback(
        runner,
        Some(CALLBACK_TOKEN),
        &json!([
            {"job": "job-2", "status": "ok"},
            {"job": "job-3", "status": "rejected", "error": "out of stock"}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["tasks"],
        json!([{"id": ids[1], "state": "done"}, {"id": ids[2], "state": "failed"}])
    );
    let third = task(runner, &ids[2]).await;
    assert_eq!(third["state"], "failed", "{third}");
    assert_eq!(third["lastError"], "out of stock", "{third}");
    let log: Vec<&str> = third["log"]
        .as_array()
        .map(|l| l.iter().filter_map(|l| l["message"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        log.iter().any(|l| l.contains("correlation `job-3`")),
        "{log:#?}"
    );
    assert_eq!(
        log.last().copied(),
        Some("Acknowledged by callback: failed (out of stock)")
    );
    let counts = runner.counts("jobs").await;
    assert_eq!(
        (&counts["done"], &counts["failed"], &counts["waiting"]),
        (&json!(2), &json!(1), &json!(0)),
        "{counts}"
    );
}

async fn an_unacknowledged_task_is_sent_again_then_fails(runner: &Runner, requests: &AtomicUsize) {
    let before = requests.load(Ordering::SeqCst);
    let (status, answer) = runner
        .post_json("/webhooks/default/impatient", &json!({"id": 7}))
        .await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["taskIds"][0].as_str().unwrap_or_default().to_owned();
    eventually(Duration::from_secs(20), "the task failed", || async {
        (task(runner, &id).await["state"] == "failed").then_some(())
    })
    .await;
    // Sent, timed out, sent again (its second and last attempt), timed out.
    assert_eq!(requests.load(Ordering::SeqCst) - before, 2);
    let failed = task(runner, &id).await;
    assert_eq!(failed["attempts"], 2, "{failed}");
    assert_eq!(
        failed["lastError"], "No acknowledgement within 1 s",
        "{failed}"
    );
}

#[tokio::test]
async fn waiting_tasks_on_sqlite() {
    let (runner, requests, _dir) = start(None).await;
    acknowledgements_end_the_wait(&runner).await;
    an_unacknowledged_task_is_sent_again_then_fails(&runner, &requests).await;
}

#[tokio::test]
async fn waiting_tasks_on_postgres() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let (mut runner, requests, _dir) = start(Some(database.url.clone())).await;
    acknowledgements_end_the_wait(&runner).await;
    an_unacknowledged_task_is_sent_again_then_fails(&runner, &requests).await;
    runner.kill();
    database.drop_now().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_acknowledgement_endpoints() {
    let (runner, _, _dir) = start(None).await;
    let document = runner.get_json("/openapi.json").await;
    let paths = &document["paths"];
    assert!(
        paths
            .get("/api/v1/namespaces/{namespace}/tasks/{id}/ack")
            .is_some(),
        "{paths}"
    );
    assert!(
        paths.get("/callbacks/{namespace}/{route}").is_some(),
        "{paths}"
    );
    let states = document["components"]["schemas"]["TaskState"].to_string();
    assert!(states.contains("waiting"), "{states}");
}
