//! A Connection's limits hold across every route that uses it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

fn manifests(base_url: &str, limits: &str) -> String {
    let route = |name: &str| {
        format!(
            "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  incoming: {{webhook: {{}}}}\n  outgoing: {{connection: shared}}\n  processing: {{maxConcurrency: 8}}\n---\n"
        )
    };
    format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: shared}}\nspec:\n  http:\n    baseUrl: \"{base_url}\"\n    limits: {limits}\n---\n{}{}",
        route("first"),
        route("second")
    )
}

fn items(n: usize) -> Value {
    json!((0..n).map(|id| json!({"id": id})).collect::<Vec<_>>())
}

#[tokio::test]
async fn two_routes_share_the_connections_concurrency_cap() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::from_millis(150),
    })
    .await;
    let dir = manifest_dir(&[(
        "all.yaml",
        &manifests(&receiver.base_url(), "{maxConcurrent: 2}"),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    for route in ["first", "second"] {
        let (status, _) = runner
            .post_json(&format!("/webhooks/default/{route}"), &items(6))
            .await;
        assert_eq!(status, 202);
    }
    eventually(Duration::from_secs(20), "twelve deliveries", || async {
        (receiver.count() == 12).then_some(())
    })
    .await;
    assert_eq!(
        receiver.max_in_flight(),
        2,
        "each route may run 8, the Connection only 2"
    );
}

#[tokio::test]
async fn the_request_rate_is_spread_over_each_second() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let dir = manifest_dir(&[(
        "all.yaml",
        &manifests(&receiver.base_url(), "{requestsPerSecond: 10}"),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let started = Instant::now();
    for route in ["first", "second"] {
        let (status, _) = runner
            .post_json(&format!("/webhooks/default/{route}"), &items(10))
            .await;
        assert_eq!(status, 202);
    }
    eventually(Duration::from_secs(20), "twenty deliveries", || async {
        (receiver.count() == 20).then_some(())
    })
    .await;
    let elapsed = started.elapsed();
    // 20 requests at 10 per second, evenly spaced: at least 1.9 s.
    assert!(elapsed >= Duration::from_millis(1_850), "{elapsed:?}");
}
