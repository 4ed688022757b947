//! `kubectl switchyard` against a runner on loopback, through a stand-in for the API
//! server's service proxy (same path layout; it drops `Authorization`, as the API server
//! does, so the runner token travels in `X-Switchyard-Authorization`).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::any;
use kubectl_switchyard::client::service_proxy_base;
use kubectl_switchyard::output::Format;
use kubectl_switchyard::{Command, RunnerClient, TaskAction, TasksArgs, run};
use serde_json::{Value, json};
use switchyard_e2e::{
    ApiTokens, Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
    scenario, serve,
};

async fn proxy(
    State(runner): State<String>,
    Path((_namespace, _service, rest)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Bytes) {
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    let mut request = reqwest::Client::new()
        .request(method, format!("{runner}/{rest}{query}"))
        .body(body);
    for (name, value) in &headers {
        if name != "authorization" && name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.expect("proxied request");
    let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
    (status, response.bytes().await.expect("body"))
}

fn tasks(state: Option<&str>) -> Command {
    Command::Tasks(TasksArgs {
        action: None,
        route: None,
        state: state.map(str::to_owned),
        limit: 100,
    })
}

#[tokio::test]
async fn the_plugin_lists_failed_tasks_retries_them_and_prints_tables_json_and_yaml() {
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 422,
        body: "refused".into(),
        headers: vec![],
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 2),
    )]);
    let tokens = ApiTokens::write(&[("ops", "editor", "plugin-editor-token")]);
    let options = RunnerOptions {
        env: vec![tokens.env()],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let (status, answer) = runner
        .post_json("/webhooks/default/items", &json!([{"id": 1}, {"id": 2}]))
        .await;
    assert_eq!(status, 202, "{answer}");
    let ids: Vec<String> = answer["taskIds"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();

    let api_server = serve(
        axum::Router::new()
            .route(
                "/api/v1/namespaces/{namespace}/services/{service}/proxy/{*rest}",
                any(proxy),
            )
            .with_state(runner.url("")),
    )
    .await;
    let base = format!("{api_server}{}", service_proxy_base("default", "acme-eu"));
    let client = RunnerClient::direct(&base, Some("plugin-editor-token".into()));
    // Without the token the runner refuses, and the plugin says why.
    let anonymous = RunnerClient::direct(&base, None);
    let error = run(&anonymous, "default", &tasks(None), Format::Table)
        .await
        .expect_err("401");
    assert!(error.to_string().contains("401 (unauthorized)"), "{error}");

    let table = eventually(Duration::from_secs(20), "two failed tasks", || async {
        let table = run(&client, "default", &tasks(Some("failed")), Format::Table)
            .await
            .expect("tasks");
        (table.lines().count() == 3).then_some(table)
    })
    .await;
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["ID", "ROUTE", "STATE", "ATTEMPTS", "AGE", "LAST", "ERROR"]
    );
    for id in &ids {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(id.as_str()) && l.contains("failed")),
            "{table}"
        );
    }
    let json: Value = serde_json::from_str(
        &run(&client, "default", &tasks(Some("failed")), Format::Json)
            .await
            .expect("json"),
    )
    .expect("JSON output");
    assert_eq!(json["tasks"].as_array().map(Vec::len), Some(2));
    let routes = run(&client, "default", &Command::Routes, Format::Yaml)
        .await
        .expect("routes");
    let routes: Value = serde_yaml::from_str(&routes).expect("YAML output");
    assert_eq!(routes[0]["tasks"]["failed"], 2, "{routes}");

    receiver.set_mode(ReceiverMode::Accept {
        delay: Duration::ZERO,
    });
    let retried = run(
        &client,
        "default",
        &Command::Tasks(TasksArgs {
            action: Some(TaskAction::Retry { ids: ids.clone() }),
            route: None,
            state: None,
            limit: 100,
        }),
        Format::Table,
    )
    .await
    .expect("retry");
    assert_eq!(retried.lines().count(), 3, "{retried}");
    eventually(
        Duration::from_secs(20),
        "the retried tasks done",
        || async {
            let table = run(&client, "default", &tasks(Some("done")), Format::Table)
                .await
                .expect("tasks");
            (table.lines().count() == 3).then_some(())
        },
    )
    .await;
    let audit = runner
        .client
        .get(runner.url("/api/v1/namespaces/default/audit"))
        .bearer_auth("plugin-editor-token")
        .send()
        .await
        .expect("audit")
        .json::<Value>()
        .await
        .expect("JSON");
    assert_eq!(audit["events"][0]["actor"], "ops (token)", "{audit}");
}
