//! Bounded memory and time per request: the largest webhook request the runner accepts
//! stays within the memory README.md documents (peak RSS, `VmHWM`), a request past the
//! item cap gets 413 and queues nothing, slow clients are cut off by the header and body
//! read time-outs, and polls stop at their bounds (an HTTP response too large, a file too
//! large) with a clear error and nothing lost.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use switchyard_e2e::{Runner, RunnerOptions, eventually, manifest_dir, runner_bin, serve};

/// The runner's defaults (runner/src/limits.rs), which README.md's "Limits" table
/// documents.
const MAX_ITEMS: usize = 10_000;
const MAX_BODY_BYTES: usize = 32 << 20;

/// README.md ("Limits"): one request of typical JSON in flight costs at most 4 × its body
/// plus 4 KiB per item (the body, the parsed values, tasks, their log lines and the
/// commit).
fn documented_request_bytes(body_bytes: usize, items: usize) -> usize {
    4 * body_bytes + 4 * 1024 * items
}

/// Routes that queue without delivering (delivery runs on a schedule that never comes),
/// so memory is that of intake alone.
fn manifests(receiver: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: sink}}
spec:
  http: {{baseUrl: "{receiver}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: sink}}
  processing: {{mode: scheduled, schedule: "0 0 1 1 *"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: small}}
spec:
  incoming: {{webhook: {{maxItems: 5}}}}
  outgoing: {{connection: sink}}
  processing: {{mode: scheduled, schedule: "0 0 1 1 *"}}
"#
    )
}

/// The runner's peak resident set (`VmHWM`), in bytes.
fn peak_rss(runner: &Runner) -> usize {
    let pid = runner.pid().expect("the runner runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<usize>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .expect("VmHWM in /proc/<pid>/status")
}

/// `count` orders whose JSON text adds up to about `bytes`.
fn orders(count: usize, bytes: usize) -> Vec<u8> {
    let filler = "x".repeat((bytes / count).saturating_sub(120));
    let mut body = Vec::with_capacity(bytes + 1024);
    body.push(b'[');
    for n in 0..count {
        if n > 0 {
            body.push(b',');
        }
        let order = json!({"id": n, "sku": format!("SKU-{n}"), "qty": n % 7, "lines": [1, 2, 3], "note": filler});
        serde_json::to_writer(&mut body, &order).expect("serialize");
    }
    body.push(b']');
    body
}

async fn post(runner: &Runner, route: &str, body: Vec<u8>) -> (u16, Value) {
    let response = runner
        .client
        .post(runner.url(&format!("/webhooks/default/{route}")))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn total_tasks(runner: &Runner, route: &str) -> u64 {
    let counts = runner.counts(route).await;
    [
        "pending",
        "processing",
        "done",
        "failed",
        "skipped",
        "waiting",
    ]
    .iter()
    .filter_map(|state| counts[state].as_u64())
    .sum()
}

#[tokio::test]
async fn the_largest_request_stays_within_the_documented_memory_and_one_past_the_cap_is_refused() {
    let dir = manifest_dir(&[("manifests.yaml", &manifests("http://127.0.0.1:9"))]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    // Warm up (connection pool, prepared statements) before taking the baseline.
    let (status, _) = post(&runner, "orders", br#"{"id": "warm-up"}"#.to_vec()).await;
    assert_eq!(status, 202);
    let baseline = peak_rss(&runner);

    // A million small items (13 MB, under the body limit): refused at the cap, early.
    let mut million = Vec::with_capacity(14 << 20);
    million.push(b'[');
    for n in 0..1_000_000 {
        if n > 0 {
            million.push(b',');
        }
        million.extend_from_slice(br#"{"n":1234}"#);
    }
    million.push(b']');
    let million_bytes = million.len();
    let began = Instant::now();
    let (status, answer) = post(&runner, "orders", million).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["code"], "payload_too_large", "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("more than {MAX_ITEMS} items")) && error.contains("maxItems"),
        "{error}"
    );
    let refused_in = began.elapsed();
    let after_million = peak_rss(&runner);
    eprintln!(
        "a million items ({million_bytes} bytes): 413 in {refused_in:?}, peak RSS {} → {} MiB",
        baseline >> 20,
        after_million >> 20
    );
    assert!(
        after_million - baseline <= documented_request_bytes(million_bytes, MAX_ITEMS),
        "peak RSS grew by {} MiB for a refused request",
        (after_million - baseline) >> 20
    );
    assert_eq!(
        total_tasks(&runner, "orders").await,
        1,
        "nothing more was queued"
    );

    // The largest request allowed: the item cap and (nearly) the body limit.
    let largest = orders(MAX_ITEMS, MAX_BODY_BYTES - (64 << 10));
    let largest_bytes = largest.len();
    assert!(largest_bytes <= MAX_BODY_BYTES);
    let began = Instant::now();
    let (status, answer) = post(&runner, "orders", largest).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["taskIds"].as_array().map(Vec::len), Some(MAX_ITEMS));
    let peak = peak_rss(&runner);
    let bound = documented_request_bytes(largest_bytes, MAX_ITEMS);
    eprintln!(
        "the largest request ({MAX_ITEMS} items, {largest_bytes} bytes): 202 in {:?}, peak RSS {} → {} MiB (documented bound: +{} MiB)",
        began.elapsed(),
        baseline >> 20,
        peak >> 20,
        bound >> 20
    );
    assert!(
        peak - baseline <= bound,
        "peak RSS grew by {} MiB, more than the documented {} MiB",
        (peak - baseline) >> 20,
        bound >> 20
    );
    assert_eq!(total_tasks(&runner, "orders").await, 1 + MAX_ITEMS as u64);

    // A route's own cap, one item past it.
    let six = serde_json::to_vec(&vec![json!({"a": 1}); 6]).expect("body");
    let (status, answer) = post(&runner, "small", six).await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("more than 5 items")),
        "{answer}"
    );
    let five = serde_json::to_vec(&vec![json!({"a": 1}); 5]).expect("body");
    assert_eq!(post(&runner, "small", five).await.0, 202);
    assert_eq!(total_tasks(&runner, "small").await, 5);

    // Past the body limit: refused before reading it all.
    // The runner may answer 413 and close while the client is still writing; then the
    // client sees the connection cut (broken pipe) instead of the answer. Both mean the
    // body was refused; nothing may be queued either way.
    let sent = runner
        .client
        .post(runner.url("/webhooks/default/orders"))
        .header("content-type", "application/json")
        .body(vec![b' '; MAX_BODY_BYTES + 1])
        .send()
        .await;
    match sent {
        Ok(response) => assert_eq!(response.status().as_u16(), 413),
        Err(error) => assert!(error.is_request(), "{error:?}"),
    }
    assert_eq!(total_tasks(&runner, "orders").await, 1 + MAX_ITEMS as u64);
}

/// Writes `bytes` one a second until the runner closes the connection; how long that
/// took.
fn trickle(stream: &mut TcpStream, bytes: &[u8], limit: Duration) -> Duration {
    let began = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(1_000)))
        .expect("read time-out");
    let mut answer = Vec::new();
    for byte in bytes.iter().cycle() {
        assert!(began.elapsed() < limit, "still open after {limit:?}");
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        // Paced by the read time-out: one byte a second, or the answer and EOF.
        let mut buffer = [0u8; 1024];
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    let took = began.elapsed();
    eprintln!(
        "closed after {took:?}; answer: {}",
        String::from_utf8_lossy(&answer)
    );
    took
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_cut_off_by_the_header_and_body_read_timeouts() {
    let dir = manifest_dir(&[("manifests.yaml", &manifests("http://127.0.0.1:9"))]);
    let options = RunnerOptions {
        env: vec![
            ("SWITCHYARD_HEADER_READ_TIMEOUT_SECONDS".into(), "2".into()),
            ("SWITCHYARD_BODY_READ_TIMEOUT_SECONDS".into(), "3".into()),
        ],
        ..RunnerOptions::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let address = format!("127.0.0.1:{}", runner.port);
    let slack = Duration::from_secs(3);

    // Headers, one byte a second.
    let headers = b"POST /webhooks/default/orders HTTP/1.1\r\nHost: runner\r\nContent-Type: application/json\r\n";
    let mut stream = TcpStream::connect(&address).expect("connect");
    let took = tokio::task::block_in_place(|| {
        trickle(&mut stream, headers, Duration::from_secs(2) + slack)
    });
    assert!(
        took >= Duration::from_secs(1),
        "closed before the time-out: {took:?}"
    );

    // Headers at once, then the body one byte a second: 408, then closed.
    let mut stream = TcpStream::connect(&address).expect("connect");
    stream
        .write_all(b"POST /webhooks/default/orders HTTP/1.1\r\nHost: runner\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        .expect("headers");
    let took = tokio::task::block_in_place(|| {
        trickle(
            &mut stream,
            b"[{\"a\": 1}, ",
            Duration::from_secs(3) + slack,
        )
    });
    assert!(
        took >= Duration::from_secs(2),
        "closed before the time-out: {took:?}"
    );
    assert_eq!(
        total_tasks(&runner, "orders").await,
        0,
        "nothing was queued"
    );

    // A client that is not slow is served as usual.
    let (status, _) = post(&runner, "orders", br#"{"a": 1}"#.to_vec()).await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn polls_past_their_bounds_fail_clearly_and_lose_nothing() {
    // 2 MiB of JSON in one response; pages of 5 items, 3 pages.
    let big = json!({"data": [{"blob": "y".repeat(2 << 20)}]});
    let app = Router::new()
        .route("/big", get(move || async move { axum::Json(big.clone()) }))
        .route(
            "/paged",
            get(
                |query: axum::extract::Query<std::collections::HashMap<String, u32>>| async move {
                    let page = query.get("page").copied().unwrap_or(1);
                    let items: Vec<Value> = if page <= 3 {
                        (0..5).map(|n| json!({"page": page, "n": n})).collect()
                    } else {
                        Vec::new()
                    };
                    axum::Json(json!({"data": items}))
                },
            ),
        );
    let source = serve(app).await;
    let files = tempfile::tempdir().expect("files root");
    let inbox = files.path().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    std::fs::write(inbox.join("a-small.csv"), "id\n1\n2\n").expect("small file");
    let large = format!("id\n{}", "3\n".repeat(600_000));
    std::fs::write(inbox.join("b-large.csv"), &large).expect("large file");
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: source}}
spec:
  http: {{baseUrl: "{source}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: drop}}
spec:
  fileSystem:
    local: {{root: "{root}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: big-response}}
spec:
  incoming:
    poll:
      connection: source
      schedule: "0 0 1 1 *"
      request: {{path: /big}}
      itemsPointer: /data
      maxResponseBytes: 1048576
  outgoing: {{connection: source}}
  processing: {{mode: scheduled, schedule: "0 0 1 1 *"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: many-pages}}
spec:
  incoming:
    poll:
      connection: source
      schedule: "0 0 1 1 *"
      request: {{path: /paged}}
      itemsPointer: /data
      pagination: {{pageNumber: {{param: page}}}}
      maxItems: 12
  outgoing: {{connection: source}}
  processing: {{mode: scheduled, schedule: "0 0 1 1 *"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: inbox}}
spec:
  incoming:
    poll:
      connection: drop
      schedule: "0 0 1 1 *"
      files: {{path: inbox, format: csv, maxFileBytes: 1048576}}
  outgoing: {{connection: source}}
  processing: {{mode: scheduled, schedule: "0 0 1 1 *"}}
"#,
        root = files.path().display(),
    );
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let trigger = |route: &'static str| {
        let runner = &runner;
        async move {
            let response = runner
                .client
                .post(runner.url(&format!(
                    "/api/v1/namespaces/default/routes/{route}/trigger"
                )))
                .send()
                .await
                .expect("trigger");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let (status, answer) = trigger("big-response").await;
    assert_eq!(status, 502, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("more than 1048576 bytes") && error.contains("maxResponseBytes"),
        "{error}"
    );
    assert_eq!(total_tasks(&runner, "big-response").await, 0);

    let (status, answer) = trigger("many-pages").await;
    assert_eq!(status, 502, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("more than 12 items") && error.contains("maxItems"),
        "{error}"
    );
    assert_eq!(total_tasks(&runner, "many-pages").await, 0);

    // The small file is queued; the large one is not read: it becomes a failed task that
    // names it and the bound, and waits in failed/.
    let (status, answer) = trigger("inbox").await;
    assert_eq!(status, 202, "{answer}");
    let tasks = eventually(Duration::from_secs(10), "the inbox's tasks", || {
        let runner = &runner;
        async move {
            let tasks = runner
                .get_json("/api/v1/namespaces/default/tasks?route=inbox")
                .await;
            let tasks = tasks["tasks"].as_array().cloned().unwrap_or_default();
            (tasks.len() == 3).then_some(tasks)
        }
    })
    .await;
    let failed: Vec<&Value> = tasks.iter().filter(|t| t["state"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{tasks:?}");
    let id = failed[0]["id"].as_str().unwrap_or_default();
    let reason = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await
        .to_string();
    assert!(
        reason.contains("b-large.csv")
            && reason.contains("larger than 1048576 bytes")
            && reason.contains("maxFileBytes"),
        "{reason}"
    );
    let moved = files.path().join("inbox/failed/b-large.csv");
    assert_eq!(
        std::fs::read_to_string(&moved).expect("the large file in failed/"),
        large
    );
    assert!(files.path().join("inbox/processed/a-small.csv").exists());
}
