//! `POST /api/v1/namespaces/{ns}/connections/{name}/test`: reachability and credentials,
//! without moving data.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, free_port, manifest_dir, runner_bin,
};

fn connection(name: &str, url: &str) -> String {
    format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: {name}}}\nspec:\n  http: {{baseUrl: \"{url}\"}}\n---\n"
    )
}

#[tokio::test]
async fn a_connection_test_reports_reachability_without_queueing_anything() {
    let up = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let refusing = Receiver::start(ReceiverMode::Answer {
        status: 403,
        body: "no".into(),
        headers: vec![],
    })
    .await;
    let down = format!("http://127.0.0.1:{}", free_port());
    let route = "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {name: r}\nspec:\n  incoming: {webhook: {}}\n  outgoing: {connection: up}\n";
    let manifests = connection("up", &up.base_url())
        + &connection("refusing", &refusing.base_url())
        + &connection("down", &down)
        + route;
    let dir = manifest_dir(&[("all.yaml", &manifests)]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;

    let test = |name: &'static str| {
        let runner = &runner;
        async move {
            runner
                .post_json(
                    &format!("/api/v1/namespaces/default/connections/{name}/test"),
                    &json!({}),
                )
                .await
        }
    };
    for (name, ok, finding) in [
        ("up", true, "reachable (GET"),
        ("refusing", false, "credentials were refused (403"),
        ("down", false, "cannot connect"),
    ] {
        let (status, answer) = test(name).await;
        assert_eq!(
            (status, answer["ok"].clone()),
            (200, json!(ok)),
            "{name}: {answer}"
        );
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(finding), "{name}: {answer}");
    }
    let (status, _) = test("missing").await;
    assert_eq!(status, 404);
    // Only the probes reached the systems: nothing was queued or delivered.
    assert!(
        up.received()
            .iter()
            .all(|r| r.method == "GET" && r.body == Value::Null)
    );
    assert_eq!(runner.counts("r").await["pending"], 0);
}
