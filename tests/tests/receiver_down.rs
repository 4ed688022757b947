//! A receiving system that is down for several attempts: tasks wait and retry, then all arrive.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, free_port, manifest_dir, runner_bin,
    scenario,
};

#[tokio::test]
async fn tasks_wait_and_retry_until_the_receiver_is_back() {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let manifests = manifest_dir(&[("route.yaml", &scenario::webhook_route(&base_url, 8))]);
    let runner = Runner::start(runner_bin!(), manifests.path(), &RunnerOptions::default()).await;

    let items: Vec<Value> = (0..100)
        .map(|id| json!({"id": id, "payload": "p"}))
        .collect();
    let (status, answer) = runner
        .post_json("/webhooks/default/items", &json!(items))
        .await;
    assert_eq!(status, 202, "{answer}");

    // Nothing listens: every attempt fails to connect and is rescheduled. Wait until the
    // first and the last task have each failed four attempts (their back-off grows), then
    // check that nothing was given up on.
    let task_ids: Vec<String> = answer["taskIds"]
        .as_array()
        .expect("task ids")
        .iter()
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect();
    assert_eq!(task_ids.len(), 100, "{answer}");
    for id in [&task_ids[0], &task_ids[99]] {
        eventually(Duration::from_secs(60), "four failed attempts", || async {
            let task = runner
                .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
                .await;
            (task["attempts"].as_i64().unwrap_or(0) >= 4).then_some(())
        })
        .await;
    }
    let counts = runner.counts("items").await;
    assert_eq!(counts["done"], 0, "{counts}");
    assert_eq!(counts["failed"], 0, "{counts}");
    let waiting =
        counts["pending"].as_u64().unwrap_or(0) + counts["processing"].as_u64().unwrap_or(0);
    assert_eq!(waiting, 100, "{counts}");

    let receiver = Receiver::start_on(
        port,
        ReceiverMode::Accept {
            delay: Duration::ZERO,
        },
    )
    .await;
    eventually(Duration::from_secs(30), "all 100 tasks done", || async {
        (runner.counts("items").await["done"] == 100).then_some(())
    })
    .await;
    let ids: std::collections::HashSet<u64> = receiver
        .received()
        .iter()
        .filter_map(|r| r.body["id"].as_u64())
        .collect();
    assert_eq!(ids.len(), 100);

    // The task log tells the story: connection failures, back-off, then delivery.
    let first = &task_ids[0];
    let task = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{first}"))
        .await;
    assert!(task["attempts"].as_i64().unwrap_or(0) > 3, "{task}");
    let log: Vec<&str> = task["log"]
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(
        log.iter()
            .any(|l| l.contains("cannot connect") && l.contains("retrying in")),
        "{log:#?}"
    );
    assert!(
        log.last()
            .is_some_and(|l| l.contains(&format!("POST {base_url}/items/0 → 200 OK"))),
        "{log:#?}"
    );
}
