//! The synchronous HTTP proxy (`incoming.proxy`) end to end: calls through the runner
//! reach a loopback receiver with the Connection's credentials (never the caller's),
//! bodies stream both ways, steps reshape request and answer, a receiver that is down or
//! slow gives 502 or 504 with a JSON reason, and every forwarded call is a task with its
//! bodies' start, secrets masked.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures::StreamExt;
use serde_json::{Value, json};
use switchyard_e2e::{
    Runner, RunnerOptions, eventually, free_port, manifest_dir, runner_bin, serve,
};

/// The Connection's credential, which only the receiver may see.
const RECEIVER_TOKEN: &str = "receiver-bearer-token-4711";
/// The caller's credential for the proxy route.
const CALLER_TOKEN: &str = "caller-proxy-token-0815";
/// Bytes of the large bodies: more than any buffer the runner has (32 MiB).
const LARGE: usize = 40 * 1024 * 1024;

/// Answers every request with what it saw: method, path and query, headers, the body's
/// length and (when JSON) the body; and headers a proxy must not pass back.
async fn echo(request: Request) -> Response {
    let method = request.method().to_string();
    let uri = request.uri().to_string();
    let headers: serde_json::Map<String, Value> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
        .collect();
    let mut bytes = 0usize;
    let mut kept = Vec::new();
    let mut stream = request.into_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("request body chunk");
        bytes += chunk.len();
        if kept.len() < 1_000_000 {
            kept.extend_from_slice(&chunk);
        }
    }
    let body: Value = serde_json::from_slice(&kept).unwrap_or(Value::Null);
    let answer =
        json!({"method": method, "uri": uri, "headers": headers, "bytes": bytes, "body": body});
    let mut response = (StatusCode::OK, axum::Json(answer)).into_response();
    let extra = response.headers_mut();
    extra.insert("x-receiver", "echo".parse().expect("header"));
    extra.insert("etag", "\"v7\"".parse().expect("header"));
    extra.insert(
        "set-cookie",
        "sid=receiver-session".parse().expect("header"),
    );
    extra.insert("proxy-authenticate", "Basic".parse().expect("header"));
    extra.insert("keep-alive", "timeout=5".parse().expect("header"));
    response
}

/// `LARGE` bytes, streamed in 64 KiB chunks.
async fn download() -> Response {
    let chunk = axum::body::Bytes::from(vec![b'z'; 64 * 1024]);
    let chunks = LARGE / chunk.len();
    let stream =
        futures::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        "application/octet-stream".parse().expect("header"),
    );
    (headers, Body::from_stream(stream)).into_response()
}

async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(5)).await;
    (StatusCode::OK, "late").into_response()
}

async fn broken() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("content-type", "text/plain")],
        "maintenance until 14:00",
    )
        .into_response()
}

async fn receiver() -> String {
    serve(
        Router::new()
            .route("/api/download", get(download))
            .route("/api/slow", get(slow))
            .route("/api/broken", any(broken))
            .fallback(any(echo)),
    )
    .await
}

fn manifests(receiver: &str, down: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec:
  http:
    baseUrl: "{receiver}/api"
    headers: {{X-Tenant: acme}}
    auth: {{bearer: {{token: {{secretKeyRef: {{name: erp, key: token}}}}}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: down}}
spec: {{http: {{baseUrl: "{down}"}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: erp}}
spec:
  incoming:
    proxy:
      auth: {{token: {{secretKeyRef: {{name: caller, key: token}}}}}}
      recordBodyBytes: 64
  outgoing: {{connection: erp}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: slow}}
spec:
  incoming: {{proxy: {{timeoutSeconds: 1}}}}
  outgoing: {{connection: erp}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: shaped}}
spec:
  incoming:
    proxy:
      request: [{{jq: '. + {{via: "switchyard"}}'}}]
      response: [{{jq: '{{sent: .body, seen: .method}}'}}]
  outgoing: {{connection: erp}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: nowhere}}
spec:
  incoming: {{proxy: {{}}}}
  outgoing: {{connection: down}}
"#
    )
}

async fn start() -> (Runner, tempfile::TempDir) {
    let receiver = receiver().await;
    let down = format!("http://127.0.0.1:{}", free_port());
    let dir = manifest_dir(&[("proxy.yaml", &manifests(&receiver, &down))]);
    let options = RunnerOptions {
        env: vec![
            ("SWITCHYARD_SECRET_ERP_TOKEN".into(), RECEIVER_TOKEN.into()),
            ("SWITCHYARD_SECRET_CALLER_TOKEN".into(), CALLER_TOKEN.into()),
            // The server-wide body cap (default 32 MiB) would stop the large streamed
            // request before the proxy sees it; the proxy's own buffers stay at 32 MiB.
            (
                "SWITCHYARD_MAX_BODY_BYTES".into(),
                (64 * 1024 * 1024).to_string(),
            ),
        ],
        ..Default::default()
    };
    (
        Runner::start(runner_bin!(), dir.path(), &options).await,
        dir,
    )
}

/// The tasks of `route`, waiting until there are `count`.
async fn tasks(runner: &Runner, route: &str, count: usize) -> Vec<Value> {
    eventually(
        Duration::from_secs(20),
        &format!("{count} tasks of route {route}"),
        || async {
            let page = runner
                .get_json(&format!("/api/v1/namespaces/default/tasks?route={route}"))
                .await;
            let tasks = page["tasks"].as_array().cloned().unwrap_or_default();
            (tasks.len() >= count).then_some(tasks)
        },
    )
    .await
}

/// A GET of `path` exactly as written, with the caller's token; the answer's head.
async fn raw_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {CALLER_TOKEN}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

async fn detail(runner: &Runner, id: &Value) -> Value {
    runner
        .get_json(&format!(
            "/api/v1/namespaces/default/tasks/{}",
            id.as_str().expect("task id")
        ))
        .await
}

#[tokio::test]
async fn calls_carry_the_connections_credentials_and_each_is_a_task() {
    let (runner, _dir) = start().await;
    let url = runner.url("/proxy/default/erp/orders/42?expand=lines&page=2");

    // No credentials, or the wrong ones: refused, nothing forwarded or recorded.
    let refused = runner.client.get(&url).send().await.expect("GET");
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.expect("JSON error");
    assert_eq!(body["code"], "unauthorized", "{body}");
    let wrong = runner
        .client
        .get(&url)
        .bearer_auth("not-the-token")
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong.status(), 401);

    let response = runner
        .client
        .get(&url)
        .bearer_auth(CALLER_TOKEN)
        .header("Cookie", "runner-session=abc")
        .header("Connection", "keep-alive, x-hop-header")
        .header("X-Hop-Header", "only for the next hop")
        .header("Proxy-Authorization", "Basic Zm9vOmJhcg==")
        .header("X-Request-Id", "req-1")
        .header("Accept", "application/json")
        .send()
        .await
        .expect("GET through the proxy");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["x-receiver"], "echo");
    assert_eq!(headers["etag"], "\"v7\"");
    for dropped in ["set-cookie", "proxy-authenticate", "keep-alive"] {
        assert!(
            headers.get(dropped).is_none(),
            "{dropped} came back: {headers:?}"
        );
    }
    let seen: Value = response.json().await.expect("echo");
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["uri"], "/api/orders/42?expand=lines&page=2");
    let sent = &seen["headers"];
    assert_eq!(
        sent["authorization"],
        format!("Bearer {RECEIVER_TOKEN}"),
        "{sent}"
    );
    assert_eq!(sent["x-tenant"], "acme", "{sent}");
    assert_eq!(sent["x-request-id"], "req-1", "{sent}");
    assert_eq!(sent["accept"], "application/json", "{sent}");
    for dropped in [
        "cookie",
        "x-hop-header",
        "proxy-authorization",
        "x-switchyard-token",
    ] {
        assert!(
            sent.get(dropped).is_none(),
            "{dropped} reached the receiver: {sent}"
        );
    }
    assert!(!sent.to_string().contains(CALLER_TOKEN), "{sent}");

    // The other header for the caller's token, and a body that mentions a secret.
    let posted = runner
        .client
        .post(runner.url("/proxy/default/erp/notes"))
        .header("X-Switchyard-Token", CALLER_TOKEN)
        .json(&json!({"note": format!("the token is {RECEIVER_TOKEN}")}))
        .send()
        .await
        .expect("POST through the proxy");
    assert_eq!(posted.status(), 200);
    let seen: Value = posted.json().await.expect("echo");
    assert!(
        seen["headers"].get("x-switchyard-token").is_none(),
        "{seen}"
    );
    // The body streamed through with the length the caller announced.
    assert!(seen["headers"].get("content-length").is_some(), "{seen}");
    assert!(seen["headers"].get("transfer-encoding").is_none(), "{seen}");
    assert_eq!(
        seen["body"]["note"],
        format!("the token is {RECEIVER_TOKEN}")
    );

    // Two calls forwarded, two tasks: done, with what was asked and answered.
    let found = tasks(&runner, "erp", 2).await;
    assert_eq!(
        found.len(),
        2,
        "the refused calls were recorded: {found:#?}"
    );
    for task in &found {
        assert_eq!(task["state"], "done", "{task}");
        assert_eq!(task["source"], "proxy", "{task}");
        assert_eq!(task["attempts"], 1, "{task}");
    }
    let get = detail(&runner, &found[0]["id"]).await;
    let item = &get["item"];
    assert_eq!(item["method"], "GET", "{get:#}");
    assert_eq!(item["path"], "/orders/42?expand=lines&page=2", "{get:#}");
    assert_eq!(item["status"], 200, "{get:#}");
    assert!(item["durationMs"].is_u64(), "{get:#}");
    assert!(
        item["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/api/orders/42?expand=lines&page=2")),
        "{get:#}"
    );
    assert_eq!(item["response"]["truncated"], true, "{get:#}");
    let post = detail(&runner, &found[1]["id"]).await;
    let text = post.to_string();
    assert!(
        !text.contains(RECEIVER_TOKEN),
        "a secret in the task: {post:#}"
    );
    assert!(
        !text.contains(CALLER_TOKEN),
        "a secret in the task: {post:#}"
    );
    let recorded = post["item"]["request"]["body"].as_str().unwrap_or_default();
    assert!(recorded.contains("the token is ***"), "{post:#}");
    assert!(
        post["item"]["response"]["body"]
            .as_str()
            .is_some_and(|b| b.len() <= 64 + 8),
        "{post:#}"
    );
    let log = post["log"].to_string();
    assert!(log.contains("Proxied POST /notes → 200"), "{log}");

    // A proxied call is over: only its caller can make it again.
    let (status, answer) = runner
        .post_json(
            &format!(
                "/api/v1/namespaces/default/tasks/{}/retry",
                found[1]["id"].as_str().expect("id")
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    let routes = runner.get_json("/api/v1/namespaces/default/routes").await;
    let erp = routes
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "erp"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(erp["incoming"], "proxy", "{erp}");
    assert_eq!(erp["proxyPath"], "/proxy/default/erp/", "{erp}");
    assert_eq!(erp["tasks"]["done"], 2, "{erp}");
    assert!(
        !runner.log().contains(RECEIVER_TOKEN),
        "the token leaked into the log"
    );
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let (runner, _dir) = start().await;
    // Steps need the body whole, and JSON.
    let response = runner
        .client
        .post(runner.url("/proxy/default/shaped/upload"))
        .header("content-type", "application/octet-stream")
        .body("not json")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 422, "request steps need JSON");
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(body["code"], "unprocessable", "{body}");

    // Without steps, nothing is held: 40 MiB each way through a runner that reads at
    // most 32 MiB whole.
    let chunks = LARGE / (256 * 1024);
    let chunk = axum::body::Bytes::from(vec![b'a'; 256 * 1024]);
    let upload =
        futures::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let response = runner
        .client
        .post(runner.url("/proxy/default/erp/upload"))
        .bearer_auth(CALLER_TOKEN)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(upload))
        .send()
        .await
        .expect("POST a large body");
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await.expect("echo");
    assert_eq!(seen["bytes"], LARGE, "{}", seen["headers"]);

    let response = runner
        .client
        .get(runner.url("/proxy/default/erp/download"))
        .bearer_auth(CALLER_TOKEN)
        .send()
        .await
        .expect("GET a large answer");
    assert_eq!(response.status(), 200);
    let mut received = 0usize;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        received += chunk.expect("answer chunk").len();
    }
    assert_eq!(received, LARGE);

    let found = tasks(&runner, "erp", 2).await;
    let upload = detail(&runner, &found[0]["id"]).await;
    assert_eq!(upload["state"], "done", "{upload:#}");
    assert_eq!(upload["item"]["request"]["bytes"], LARGE, "{upload:#}");
    assert_eq!(
        upload["item"]["request"]["body"].as_str().map(str::len),
        Some(64),
        "{upload:#}"
    );
    assert_eq!(upload["item"]["request"]["truncated"], true, "{upload:#}");
    let download = detail(&runner, &found[1]["id"]).await;
    assert_eq!(download["state"], "done", "{download:#}");
    assert_eq!(download["item"]["response"]["bytes"], LARGE, "{download:#}");
    let shaped = tasks(&runner, "shaped", 1).await;
    assert_eq!(shaped[0]["state"], "failed", "{shaped:#?}");
}

#[tokio::test]
async fn steps_reshape_the_request_and_the_answer() {
    let (runner, _dir) = start().await;
    let response = runner
        .client
        .put(runner.url("/proxy/default/shaped/orders/7"))
        .json(&json!({"id": 7}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["x-receiver"], "echo");
    let answer: Value = response.json().await.expect("reshaped answer");
    assert_eq!(
        answer,
        json!({"sent": {"id": 7, "via": "switchyard"}, "seen": "PUT"})
    );

    // An error answer is not the steps' business: it comes back as the receiver sent it.
    let response = runner
        .client
        .post(runner.url("/proxy/default/shaped/broken"))
        .json(&json!({"id": 8}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(
        response.text().await.expect("text"),
        "maintenance until 14:00"
    );

    let found = tasks(&runner, "shaped", 2).await;
    let put = detail(&runner, &found[0]["id"]).await;
    assert_eq!(put["state"], "done", "{put:#}");
    let log = put["log"].to_string();
    assert!(
        log.contains("Request steps:") && log.contains("Response steps:"),
        "{log}"
    );
    let failed = detail(&runner, &found[1]["id"]).await;
    assert_eq!(failed["state"], "failed", "{failed:#}");
    assert_eq!(failed["item"]["status"], 503, "{failed:#}");
    assert!(
        failed["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{failed:#}"
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_gives_502_and_a_slow_one_504() {
    let (runner, _dir) = start().await;
    let response = runner
        .client
        .get(runner.url("/proxy/default/nowhere/anything"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["code"], "upstream_failed", "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot be reached")),
        "{body}"
    );

    let response = runner
        .client
        .get(runner.url("/proxy/default/slow/slow"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["code"], "upstream_timeout", "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("did not answer within the time-out")),
        "{body}"
    );

    // A path that climbs out of the base URL goes nowhere (sent raw: a URL parser
    // would resolve the `..` before sending).
    for escape in [
        "/proxy/default/erp/../admin",
        "/proxy/default/erp/%2e%2e/admin",
    ] {
        let head = raw_get(runner.port, escape).await;
        assert!(head.starts_with("HTTP/1.1 400"), "{escape}: {head}");
    }

    let down = tasks(&runner, "nowhere", 1).await;
    assert_eq!(down[0]["state"], "failed", "{down:#?}");
    assert!(
        down[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("cannot be reached")),
        "{down:#?}"
    );
    let slow = tasks(&runner, "slow", 1).await;
    assert_eq!(slow[0]["state"], "failed", "{slow:#?}");
    let detail = detail(&runner, &slow[0]["id"]).await;
    assert_eq!(detail["item"]["status"], 504, "{detail:#}");
    let escapes = tasks(&runner, "erp", 2).await;
    assert!(
        escapes.iter().all(|t| t["state"] == "failed"),
        "{escapes:#?}"
    );

    let doc = runner.get_json("/openapi.json").await;
    let proxy = &doc["paths"]["/proxy/{namespace}/{route}/{path}"];
    for method in ["get", "post", "put", "delete", "patch"] {
        assert!(proxy[method].is_object(), "{method} undocumented: {proxy}");
    }
}
