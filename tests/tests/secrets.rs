//! A secret from a `secretKeyRef` never shows: not in the runner's log, not in task logs,
//! not in API answers, not on error paths.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
    secrets_dir,
};

const TOKEN: &str = "sk_live_TOPSECRET_4242";
const API_KEY: &str = "query-key/with+specials";
const WEBHOOK_TOKEN: &str = "hook-token-SECRET-77";

fn manifests(receiver: &str, unreachable: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: echo}}
spec:
  http:
    baseUrl: {receiver}
    auth:
      bearer:
        token: {{secretKeyRef: {{name: partner, key: token}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: down}}
spec:
  http:
    baseUrl: {unreachable}
    auth:
      apiKey:
        query: api_key
        value: {{secretKeyRef: {{name: partner, key: api-key}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: echoing}}
spec:
  incoming:
    webhook:
      auth:
        token: {{secretKeyRef: {{name: hooks, key: token}}}}
  outgoing:
    connection: echo
  processing:
    retry: {{maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: unreachable}}
spec:
  incoming:
    webhook: {{}}
  outgoing:
    connection: down
  processing:
    retry: {{maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100}}
"#
    )
}

#[tokio::test]
async fn secret_values_appear_in_no_log_task_log_or_api_answer() {
    // A hostile receiver that echoes the request's credentials back in its error body.
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 400,
        body: format!("rejected: you sent Authorization: Bearer {TOKEN}"),
        headers: vec![],
    })
    .await;
    let unreachable = format!("http://127.0.0.1:{}", switchyard_e2e::free_port());
    let dir = manifest_dir(&[("all.yaml", &manifests(&receiver.base_url(), &unreachable))]);
    // Mounted Secrets often end in a newline, which is not part of the value.
    let secrets = secrets_dir(&[
        ("partner", "token", &format!("{TOKEN}\n")),
        ("partner", "api-key", &format!("{API_KEY}\n")),
        ("hooks", "token", &format!("{WEBHOOK_TOKEN}\n")),
    ]);
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;

    let mut answers: Vec<String> = Vec::new();
    // Error path: a wrong webhook token (and one that contains the right one).
    for presented in ["wrong", &format!("{WEBHOOK_TOKEN}x")] {
        let response = runner
            .client
            .post(runner.url("/webhooks/default/echoing"))
            .bearer_auth(presented)
            .json(&json!({"id": 1}))
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status().as_u16(), 401);
        answers.push(response.text().await.unwrap_or_default());
    }
    // A delivery the receiver rejects while echoing the secret, and one that cannot
    // connect with the API key in its URL.
    let response = runner
        .client
        .post(runner.url("/webhooks/default/echoing"))
        .bearer_auth(WEBHOOK_TOKEN)
        .json(&json!({"id": 2, "note": "carry on"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status().as_u16(), 202);
    let echoed: Value = response.json().await.expect("JSON");
    let (status, unreachable_answer) = runner
        .post_json("/webhooks/default/unreachable", &json!({"id": 3}))
        .await;
    assert_eq!(status, 202);

    let mut tasks = Vec::new();
    for id in [&echoed["taskIds"][0], &unreachable_answer["taskIds"][0]] {
        let id = id.as_str().expect("task id").to_owned();
        let task = eventually(Duration::from_secs(20), "the task to fail", || {
            let path = format!("/api/v1/namespaces/default/tasks/{id}");
            let runner = &runner;
            async move {
                let task = runner.get_json(&path).await;
                (task["state"] == "failed").then_some(task)
            }
        })
        .await;
        tasks.push(task);
    }
    // The receiver did get the credential (the secret was used, not just hidden).
    assert!(receiver.received().iter().any(|r| {
        r.headers
            .get("authorization")
            .is_some_and(|v| v == &format!("Bearer {TOKEN}"))
    }));
    // ...and the echo was masked in the task log.
    let echo_log = tasks[0]["log"].to_string();
    assert!(
        echo_log.contains("rejected: you sent Authorization: Bearer ***"),
        "{echo_log}"
    );
    let unreachable_log = tasks[1]["log"].to_string();
    assert!(
        unreachable_log.contains("cannot connect"),
        "{unreachable_log}"
    );

    for path in [
        "/api/v1/namespaces/default/routes",
        "/api/v1/namespaces/default/tasks?limit=100",
        "/openapi.json",
        "/metrics",
    ] {
        answers.push(
            runner
                .client
                .get(runner.url(path))
                .send()
                .await
                .expect("GET")
                .text()
                .await
                .unwrap_or_default(),
        );
    }
    answers.extend(tasks.iter().map(Value::to_string));
    answers.push(runner.log());
    let encoded_key = "query-key%2Fwith%2Bspecials";
    for text in &answers {
        for secret in [TOKEN, API_KEY, encoded_key, WEBHOOK_TOKEN] {
            assert!(
                !text.contains(secret),
                "secret {secret:?} leaked in:\n{text}"
            );
        }
    }
}

/// Secrets fail closed: an empty or whitespace-only value where a credential is expected
/// stops `runner validate` and `runner run`, naming the Route or Connection, the field
/// and the Secret.
#[test]
fn empty_and_blank_secrets_are_problems_naming_field_and_secret() {
    let manifests = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: hooked}
spec:
  incoming:
    webhook:
      auth:
        token: {secretKeyRef: {name: hooks, key: token}}
  outgoing:
    connection: partner
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: signed}
spec:
  incoming:
    webhook:
      auth:
        hmac: {secret: {secretKeyRef: {name: hooks, key: hmac}}}
  outgoing:
    connection: partner
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: partner}
spec:
  http:
    baseUrl: http://127.0.0.1:9/
    auth:
      basic: {username: sync, password: {secretKeyRef: {name: partner, key: password}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp-db}
spec:
  database:
    url: postgres://sync@127.0.0.1:9/erp
    password: {secretKeyRef: {name: erp, key: password}}
"#;
    let dir = manifest_dir(&[("all.yaml", manifests)]);
    let secrets = secrets_dir(&[
        ("hooks", "token", ""),
        ("hooks", "hmac", "\n"),
        ("partner", "password", "  \t\n"),
        ("erp", "password", " "),
    ]);
    for command in ["validate", "run"] {
        let data = tempfile::tempdir().expect("data dir");
        let output = std::process::Command::new(runner_bin!())
            .args([command, "-f"])
            .arg(dir.path())
            .arg("--secrets-dir")
            .arg(secrets.path())
            .args(if command == "run" {
                vec![
                    "--listen".to_owned(),
                    format!("127.0.0.1:{}", switchyard_e2e::free_port()),
                    "--data-dir".to_owned(),
                    data.path().display().to_string(),
                ]
            } else {
                Vec::new()
            })
            .output()
            .expect("run the runner");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        for (field, secret) in [
            ("spec.incoming.webhook.auth.token", "`hooks` key `token`"),
            (
                "spec.incoming.webhook.auth.hmac.secret",
                "`hooks` key `hmac`",
            ),
            ("spec.http.auth.basic.password", "`partner` key `password`"),
            ("spec.database.password", "`erp` key `password`"),
        ] {
            let line = stderr
                .lines()
                .find(|line| line.contains(field))
                .unwrap_or_else(|| panic!("{command}: no problem names {field}:\n{stderr}"));
            assert!(
                line.contains(secret) && line.contains("empty"),
                "{command}: {line}"
            );
        }
    }
}
