//! The README's quickstart, as a user runs it.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{Runner, RunnerOptions, eventually, runner_bin};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
}

/// The quickstart's Connection points at 127.0.0.1:8080, so a runner started by one test
/// delivers into the runner another test keeps on that port. The tests of this file take
/// this lock for their whole run, one at a time, so no test sees another's deliveries.
static QUICKSTART: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn start_quickstart() -> Runner {
    let examples = repo().join("examples/quickstart");
    let options = RunnerOptions {
        secrets_dir: Some(examples.join("secrets")),
        ..Default::default()
    };
    Runner::start(runner_bin!(), &examples, &options).await
}

#[tokio::test]
async fn a_posted_order_is_reshaped_queued_and_delivered_with_its_log() {
    let _serial = QUICKSTART.lock().await;
    let runner = start_quickstart().await;
    // The quickstart's Connection points at 127.0.0.1:8080, where the README runs it.
    // Here the runner listens elsewhere, so only the first route is checked up to its
    // delivery attempt; the warehouse route is exercised by posting to it directly.
    let order: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/quickstart/sample-order.json"))
            .expect("sample order"),
    )
    .expect("sample order is JSON");
    let response = runner
        .client
        .post(runner.url("/webhooks/default/shop-orders"))
        .bearer_auth("quickstart-token")
        .json(&order)
        .send()
        .await
        .expect("POST order");
    assert_eq!(response.status().as_u16(), 202);
    let accepted: Value = response.json().await.expect("JSON answer");
    let id = accepted["taskIds"][0]
        .as_str()
        .expect("one task id")
        .to_owned();

    let task = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await;
    assert_eq!(task["route"], "shop-orders");
    assert_eq!(
        task["item"],
        json!({
            "reference": "SHOP-1001",
            "recipient": "Ada Lovelace",
            "items": [{"sku": "GEAR-12", "quantity": 2}, {"sku": "CAM-3", "quantity": 1}],
            "totalQuantity": 3,
            "source": "quickstart-shop"
        })
    );
    let log: Vec<String> = task["log"]
        .as_array()
        .expect("log")
        .iter()
        .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(log[0].starts_with("Received via webhook"), "{log:?}");
    assert!(
        log[0].contains("; incoming transformers: ")
            && log[0].contains("order-to-shipment step 2 jq: 1 → 1"),
        "{log:?}"
    );

    // The warehouse route is open and delivers with GET /healthz on 127.0.0.1:8080; when
    // the README's runner is not there the attempt fails and is retried, which is shown
    // in the log.
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/warehouse-inbox",
            &json!({"reference": "X"}),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
}

#[tokio::test]
async fn the_quickstart_runs_end_to_end_on_its_documented_port() {
    let _serial = QUICKSTART.lock().await;
    // The README runs the quickstart on 127.0.0.1:8080; its Connection points there.
    if std::net::TcpListener::bind("127.0.0.1:8080").is_err() {
        assert!(
            !switchyard_e2e::in_ci(),
            "port 8080 is taken; CI needs it for the quickstart test"
        );
        eprintln!("SKIPPED: port 8080 is taken on this machine");
        return;
    }
    let examples = repo().join("examples/quickstart");
    let data = tempfile::tempdir().expect("data dir");
    let mut child = std::process::Command::new(runner_bin!())
        .args(["run", "-f"])
        .arg(&examples)
        .arg("--secrets-dir")
        .arg(examples.join("secrets"))
        .arg("--data-dir")
        .arg(data.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start runner");
    let client = reqwest::Client::new();
    eventually(Duration::from_secs(30), "the runner on :8080", || {
        let client = client.clone();
        async move {
            client
                .get("http://127.0.0.1:8080/readyz")
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        }
    })
    .await;
    // Exactly the README's curl line.
    let answer: Value = client
        .post("http://127.0.0.1:8080/webhooks/default/shop-orders")
        .header("Authorization", "Bearer quickstart-token")
        .header("Content-Type", "application/json")
        .body(std::fs::read(examples.join("sample-order.json")).expect("sample"))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let id = answer["taskIds"][0].as_str().expect("task id").to_owned();
    let task = eventually(Duration::from_secs(20), "the task to be done", || {
        let client = client.clone();
        let id = id.clone();
        async move {
            let task: Value = client
                .get(format!(
                    "http://127.0.0.1:8080/api/v1/namespaces/default/tasks/{id}"
                ))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (task["state"] == "done").then_some(task)
        }
    })
    .await;
    let last = task["log"]
        .as_array()
        .and_then(|l| l.last())
        .map(|l| l["message"].to_string())
        .unwrap_or_default();
    assert!(
        last.contains("POST http://127.0.0.1:8080/webhooks/default/warehouse-inbox → 202"),
        "{last}"
    );
    // The warehouse received it and acknowledged it.
    let routes: Value = client
        .get("http://127.0.0.1:8080/api/v1/namespaces/default/routes")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let inbox = routes
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "warehouse-inbox"))
        .cloned()
        .unwrap_or_default();
    let total: i64 = ["pending", "processing", "done"]
        .iter()
        .map(|s| inbox["tasks"][s].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, 1, "{inbox}");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_malformed_body_gets_a_400_that_says_why_and_queues_nothing() {
    let _serial = QUICKSTART.lock().await;
    let runner = start_quickstart().await;
    let cases: [(&str, &str); 4] = [
        (
            "{\"id\": ",
            "the body is not valid JSON: EOF while parsing a value at line 1 column 7",
        ),
        ("", "the body is empty"),
        ("42", "the body is a JSON number"),
        (
            "[{\"id\":1}, \"x\"]",
            "element 1 of the array is a JSON string",
        ),
    ];
    for (body, expected) in cases {
        let response = runner
            .client
            .post(runner.url("/webhooks/default/shop-orders"))
            .bearer_auth("quickstart-token")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status().as_u16(), 400, "body {body:?}");
        let answer: Value = response.json().await.expect("JSON error");
        assert!(
            answer["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with(expected),
            "{answer}"
        );
    }
    let counts = runner.counts("shop-orders").await;
    assert_eq!(
        counts,
        json!({"pending": 0, "processing": 0, "done": 0, "failed": 0, "skipped": 0, "waiting": 0})
    );
    // Unauthenticated posts are refused too, and do not queue.
    let (status, _) = runner
        .post_json("/webhooks/default/shop-orders", &json!({"id": 1}))
        .await;
    assert_eq!(status, 401);
}
