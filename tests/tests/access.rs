//! Users and roles against the runner process: tokens with roles from a file, 403 with
//! the missing role, and the audit trail naming the authenticated caller — for API
//! actions and for configuration reloads.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    ApiTokens, Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
    scenario,
};

const VIEWER: &str = "viewer-token-for-tests";
const EDITOR: &str = "editor-token-for-tests";

async fn call(runner: &Runner, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    let response = runner
        .client
        .request(method, runner.url(path))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_viewer_gets_403_on_retry_and_an_editors_retry_and_a_reload_are_audited() {
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 422,
        body: "refused".into(),
        headers: vec![],
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 1),
    )]);
    let tokens = ApiTokens::write(&[("vera", "viewer", VIEWER), ("eddie", "editor", EDITOR)]);
    let options = RunnerOptions {
        env: vec![tokens.env()],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let (status, answer) = runner
        .post_json("/webhooks/default/items", &json!({"id": 7}))
        .await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["taskIds"][0].as_str().expect("id").to_owned();
    let task_path = format!("/api/v1/namespaces/default/tasks/{id}");
    eventually(Duration::from_secs(20), "the task to fail", || async {
        let (_, task) = call(&runner, reqwest::Method::GET, &task_path, VIEWER).await;
        (task["state"] == "failed").then_some(())
    })
    .await;

    let retry = format!("{task_path}/retry");
    let (status, body) = call(&runner, reqwest::Method::POST, &retry, VIEWER).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        (body["code"].clone(), body["requiredRole"].clone()),
        (json!("forbidden"), json!("editor"))
    );
    let (status, body) = call(&runner, reqwest::Method::POST, &retry, EDITOR).await;
    assert_eq!(status, 200, "{body}");

    let (_, page) = call(
        &runner,
        reqwest::Method::GET,
        "/api/v1/namespaces/default/audit",
        VIEWER,
    )
    .await;
    let event = &page["events"][0];
    assert_eq!(
        (
            event["action"].clone(),
            event["actor"].clone(),
            event["target"].clone()
        ),
        (json!("retry"), json!("eddie (token)"), json!(id)),
        "{page}"
    );
    assert_eq!(event["origin"], "127.0.0.1");

    // A changed manifest reloads; the audit trail says which resources changed.
    let changed = scenario::webhook_route(&receiver.base_url(), 2);
    std::fs::write(dir.path().join("route.yaml"), changed).expect("rewrite");
    let reload = eventually(
        Duration::from_secs(20),
        "a reload in the audit trail",
        || async {
            let (_, page) = call(
                &runner,
                reqwest::Method::GET,
                "/api/v1/namespaces/default/audit?action=reload",
                VIEWER,
            )
            .await;
            page["events"].get(0).cloned()
        },
    )
    .await;
    assert_eq!(reload["actor"], "runner");
    assert_eq!(
        reload["detail"]["changed"],
        json!(["Route/items"]),
        "{reload}"
    );
}
