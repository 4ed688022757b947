//! Processing settings: maximum concurrency, scheduled delivery, suspend, and a clean
//! drain on SIGTERM.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

fn route(base_url: &str, processing: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: receiver}}
spec:
  http: {{baseUrl: "{base_url}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: items}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: receiver}}
  processing: {processing}
"#
    )
}

fn items(n: usize) -> Value {
    json!((0..n).map(|id| json!({"id": id})).collect::<Vec<_>>())
}

// Two threads: `terminate` blocks one while the receiver answers on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_never_exceeds_max_concurrency_and_sigterm_drains_in_flight_tasks() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::from_millis(300),
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &route(&receiver.base_url(), "{maxConcurrency: 3}"),
    )]);
    let mut runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let (status, _) = runner
        .post_json("/webhooks/default/items", &items(12))
        .await;
    assert_eq!(status, 202);
    eventually(Duration::from_secs(20), "all delivered", || async {
        (receiver.count() == 12).then_some(())
    })
    .await;
    assert_eq!(receiver.max_in_flight(), 3);

    // SIGTERM while deliveries are in flight: they finish and are recorded before exit,
    // so nothing delivered is delivered again after the restart.
    let (status, _) = runner.post_json("/webhooks/default/items", &items(6)).await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let exit = runner.terminate().expect("runner exit status");
    assert!(exit.success(), "{exit:?}\n{}", runner.log());
    assert!(runner.log().contains("Stopped"), "{}", runner.log());
    let delivered_before_exit = receiver.count();
    assert!(
        delivered_before_exit > 12,
        "nothing was in flight at SIGTERM"
    );
    let restarted = Runner::restart(
        runner_bin!(),
        dir.path(),
        &runner.data_dir,
        &RunnerOptions::default(),
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the rest delivered after restart",
        || async { (restarted.counts("items").await["done"] == 18).then_some(()) },
    )
    .await;
    assert_eq!(
        receiver.count(),
        18,
        "a delivery made before SIGTERM was not recorded and was made again"
    );
}

#[tokio::test]
async fn scheduled_delivery_waits_for_its_tick() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    // Every 4 seconds (6-field cron with seconds).
    let schedule = r#"{mode: scheduled, schedule: "*/4 * * * * *"}"#;
    let dir = manifest_dir(&[("route.yaml", &route(&receiver.base_url(), schedule))]);
    let options = RunnerOptions {
        env: vec![(
            "RUST_LOG".into(),
            "debug,sqlx=warn,hyper=warn,hyper_util=warn,reqwest=warn".into(),
        )],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let since_tick = || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (now.as_secs() % 4) * 1_000 + u64::from(now.subsec_millis())
    };
    // Post after a tick's run has drained the queue (it starts at the tick and may
    // still be leasing in its first milliseconds), so the items wait for the next one.
    eventually(Duration::from_secs(6), "just after a tick", || async {
        (500..1_500).contains(&since_tick()).then_some(())
    })
    .await;
    let (status, _) = runner.post_json("/webhooks/default/items", &items(5)).await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        receiver.count(),
        0,
        "delivered {} ms after a tick, before the next one; runner log:\n{}",
        since_tick(),
        runner.log()
    );
    assert_eq!(runner.counts("items").await["pending"], 5);
    eventually(Duration::from_secs(10), "delivery at the tick", || async {
        (receiver.count() == 5).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_suspended_route_takes_nothing_in_and_delivers_nothing() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &route(&receiver.base_url(), "{suspend: true}"),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let (status, answer) = runner.post_json("/webhooks/default/items", &items(1)).await;
    assert_eq!(status, 503);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("suspended")),
        "{answer}"
    );
    let routes = runner.get_json("/api/v1/namespaces/default/routes").await;
    assert_eq!(routes[0]["suspended"], true);
}
