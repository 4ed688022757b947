//! The secret-marker matrix: one random marker secret per run is every credential of
//! every connector (HTTP basic, bearer, API key in a header and in the query, OAuth2
//! client secret, a secret-valued header, SOAP WS-Security, a database password, the
//! webhook token, the queue URL's password). Hostile servers on loopback echo whatever
//! they receive, late in long error bodies, on every error path that can be staged; then
//! the runner's log, every task log, every API answer and `/metrics` are searched for
//! every encoding of the marker. Each row names its path.

mod hostile;
mod manifests;
mod marker;

use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use serde_json::{Value, json};
use switchyard_e2e::{Runner, RunnerOptions, eventually, manifest_dir, runner_bin};

use hostile::{Partner, Seen, other_origin, partner, serve};
use manifests::{ROWS, manifests};
use marker::{QUEUE_USER, encodings, marker};

#[tokio::test]
async fn no_encoding_of_a_secret_leaves_through_any_error_path() {
    let marker = marker();
    let forms = encodings(&marker);
    let reached_other = Seen::default();
    let other_port = serve(
        Router::new()
            .fallback(any(other_origin))
            .with_state(reached_other.clone()),
    )
    .await;
    // `localhost` against `127.0.0.1`, and another port: another origin on loopback.
    let other = format!("http://localhost:{other_port}");
    let seen = Seen::default();
    let partner_port = serve(Router::new().fallback(any(partner)).with_state(Partner {
        marker: marker.clone(),
        other_origin: other.clone(),
        seen: seen.clone(),
    }))
    .await;
    let base = format!("http://127.0.0.1:{partner_port}");

    let secrets = tempfile::tempdir().expect("secrets dir");
    std::fs::create_dir_all(secrets.path().join("marker")).expect("secret dir");
    std::fs::write(secrets.path().join("marker").join("value"), &marker).expect("secret");
    let dir = manifest_dir(&[("matrix.yaml", &manifests(&base))]);
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;

    // Every text a user or an operator can see, with where it came from.
    let mut shown: Vec<(String, String)> = Vec::new();

    // The webhook refuses wrong tokens, one of them containing the right one.
    for presented in ["wrong".to_owned(), format!("{marker}x")] {
        let response = runner
            .client
            .post(runner.url("/webhooks/default/http-400"))
            .header("X-Switchyard-Token", presented)
            .json(&json!({"id": 0}))
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status().as_u16(), 401);
        shown.push((
            "webhook answer to a wrong token".into(),
            response.text().await.unwrap_or_default(),
        ));
    }

    let mut tasks = Vec::new();
    for row in ROWS {
        let response = runner
            .client
            .post(runner.url(&format!("/webhooks/default/{}", row.route)))
            .header("X-Switchyard-Token", &marker)
            .json(&json!({"id": 1, "route": row.route}))
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 202, "{}: {answer}\n{}", row.path, runner.log());
        shown.push((format!("{}: webhook answer", row.path), answer.to_string()));
        let id = answer["taskIds"][0].as_str().expect("task id").to_owned();
        tasks.push((row, id));
    }
    for (row, id) in &tasks {
        let path = format!("/api/v1/namespaces/default/tasks/{id}");
        let task = eventually(Duration::from_secs(60), row.path, || {
            let runner = &runner;
            let path = path.clone();
            async move {
                let task = runner.get_json(&path).await;
                (task["state"] == "failed").then_some(task)
            }
        })
        .await;
        let log = task["log"].to_string();
        assert!(
            log.contains(row.expect),
            "{}: the task log does not say {:?}:\n{log}",
            row.path,
            row.expect
        );
        shown.push((format!("{}: task (API)", row.path), task.to_string()));
    }

    // The excerpts were masked, not merely cut before the marker: the mask shows.
    let first = shown
        .iter()
        .find(|(path, _)| path.starts_with(ROWS[0].path) && path.ends_with("task (API)"))
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    assert!(first.contains("***"), "nothing was masked:\n{first}");

    // Redirects: the same-origin Connection did not go there; the `any` one went there
    // without its credentials.
    let landed = reached_other.all();
    assert_eq!(
        landed.len(),
        1,
        "expected only the `any` route's one (rejected) attempt at the other origin: {landed:?}"
    );
    for (_, request) in &landed {
        let lower = request.to_lowercase();
        assert!(
            !lower.contains("x-api-key") && !lower.contains("x-partner-key"),
            "credentials were sent to another origin: {request}"
        );
        shown.push((
            "request received by the other origin".into(),
            request.clone(),
        ));
    }
    // The secrets were really used (sent to the partner), so hiding them meant something.
    let sent = seen.all();
    assert!(
        sent.iter()
            .any(|(path, request)| path == "/token" && request.contains("authorization: Basic")),
        "the token endpoint saw no client authentication: {sent:?}"
    );
    assert!(
        sent.iter()
            .any(|(_, request)| request.contains(&format!("x-api-key: {marker}"))),
        "no API key was sent: {sent:?}"
    );

    // The connection test of every kind, and the API's lists.
    for name in ["basic", "oauth", "key-in-query", "warehouse"] {
        let response = runner
            .client
            .post(runner.url(&format!(
                "/api/v1/namespaces/default/connections/{name}/test"
            )))
            .send()
            .await
            .expect("POST test");
        shown.push((
            format!("connection test of `{name}`"),
            response.text().await.unwrap_or_default(),
        ));
    }
    for path in [
        "/api/v1/namespaces/default/routes",
        "/api/v1/namespaces/default/tasks?limit=100",
        "/api/v1/namespaces/default/tasks?state=failed&limit=100",
        "/metrics",
    ] {
        let text = runner
            .client
            .get(runner.url(path))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .unwrap_or_default();
        shown.push((format!("GET {path}"), text));
    }
    shown.push(("the runner's log (stderr)".into(), runner.log()));

    // Start-up: a queue URL with the marker as its password, on a port that refuses
    // connections, and the marker as the API token.
    let refused = switchyard_e2e::free_port();
    let queue_url = format!(
        "postgres://{QUEUE_USER}:{}@127.0.0.1:{refused}/queue",
        percent_encoding::utf8_percent_encode(&marker, percent_encoding::NON_ALPHANUMERIC)
    );
    let data = tempfile::tempdir().expect("data dir");
    let child = tokio::process::Command::new(runner_bin!())
        .arg("run")
        .arg("-f")
        .arg(dir.path())
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", switchyard_e2e::free_port()))
        .arg("--data-dir")
        .arg(data.path())
        .arg("--secrets-dir")
        .arg(secrets.path())
        .env("SWITCHYARD_QUEUE_URL", &queue_url)
        .env("SWITCHYARD_API_TOKEN", &marker)
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), child)
        .await
        .expect("the runner with a refused queue URL did not exit")
        .expect("run the runner");
    assert!(
        !output.status.success(),
        "a refused queue URL started a runner"
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains("cannot connect to the queue database"),
        "start-up error: {stderr}"
    );
    shown.push(("start-up with a refused queue URL: stderr".into(), stderr));
    shown.push((
        "start-up with a refused queue URL: stdout".into(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ));

    let mut leaks = Vec::new();
    for (source, text) in &shown {
        for (encoding, form) in &forms {
            if text.contains(form.as_str()) {
                leaks.push(format!("{encoding} form in {source}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "the marker leaked:\n{}\n\n{}",
        leaks.join("\n"),
        shown
            .iter()
            .map(|(source, text)| format!("== {source}\n{text}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
