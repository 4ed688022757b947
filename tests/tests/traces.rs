//! OTLP traces end to end: a runner exporting to a real OTLP receiver on loopback
//! (opentelemetry-proto from PyPI, over HTTP/protobuf and gRPC). One webhook item with a
//! `traceparent` makes one trace: intake, steps, queue wait, one span per delivery
//! attempt; the receiver of the delivery gets a `traceparent` of that trace, the task API
//! shows its id, a restart between intake and delivery keeps it, and JSON log lines
//! written in a traced span carry its trace and span ids.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::servers::otlp::{OtlpSink, OtlpTransport, ReceivedSpan};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, free_port, manifest_dir, runner_bin,
    scenario,
};

/// The caller's trace: the webhook request's parent.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn traceparent() -> String {
    format!("00-{TRACE_ID}-{CALLER_SPAN}-01")
}

fn tracing_to(sink: &OtlpSink, protocol: &str) -> RunnerOptions {
    RunnerOptions {
        env: vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), sink.endpoint()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), protocol.into()),
            ("OTEL_SERVICE_NAME".into(), "runner-under-test".into()),
            // Spans go out within 100 ms instead of the default 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ],
        ..RunnerOptions::default()
    }
}

/// Posts one item with the caller's `traceparent` (if any); returns its task id.
async fn post_item(runner: &Runner, traceparent: Option<&str>) -> String {
    let mut request = runner
        .client
        .post(runner.url("/webhooks/default/items"))
        .json(&json!({"id": 7, "payload": "secret-free"}));
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.expect("webhook request");
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.expect("webhook answer");
    answer["taskIds"][0].as_str().expect("task id").to_owned()
}

async fn task(runner: &Runner, id: &str) -> Value {
    runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await
}

/// The spans of the trace once `check` holds for them.
async fn spans_where(
    sink: &OtlpSink,
    what: &str,
    check: impl Fn(&[ReceivedSpan]) -> bool,
) -> Vec<ReceivedSpan> {
    eventually(Duration::from_secs(30), what, || async {
        let spans: Vec<ReceivedSpan> = sink
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == TRACE_ID)
            .collect();
        check(&spans).then_some(spans)
    })
    .await
}

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn attempts(spans: &[ReceivedSpan]) -> Vec<&ReceivedSpan> {
    let mut attempts = named(spans, "delivery attempt");
    attempts.sort_by_key(|s| s.attribute("switchyard.attempt").as_i64());
    attempts
}

/// The span id in a `traceparent` header, after checking its trace id.
fn span_of_header(headers: &std::collections::HashMap<String, String>) -> String {
    let header = headers.get("traceparent").expect("a traceparent header");
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(parts.len(), 4, "{header}");
    assert_eq!(parts[1], TRACE_ID, "{header}");
    parts[2].to_owned()
}

#[tokio::test]
async fn a_webhook_item_is_one_trace_from_the_callers_span_to_each_attempt() {
    let Some(sink) = OtlpSink::start(OtlpTransport::HttpProtobuf).await else {
        return;
    };
    // The first attempt fails (503), the second is delivered.
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 503,
        body: "busy".into(),
        headers: Vec::new(),
    })
    .await;
    let manifests = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 1),
    )]);
    let runner = Runner::start(
        runner_bin!(),
        manifests.path(),
        &tracing_to(&sink, "http/protobuf"),
    )
    .await;

    let id = post_item(&runner, Some(&traceparent())).await;
    eventually(
        Duration::from_secs(30),
        "the failed first attempt",
        || async { (receiver.count() >= 1).then_some(()) },
    )
    .await;
    receiver.set_mode(ReceiverMode::Accept {
        delay: Duration::ZERO,
    });
    eventually(Duration::from_secs(30), "the task delivered", || async {
        (task(&runner, &id).await["state"] == "done").then_some(())
    })
    .await;

    // The task API names the trace.
    let detail = task(&runner, &id).await;
    assert_eq!(detail["traceId"], TRACE_ID, "{detail}");
    let list = runner
        .get_json("/api/v1/namespaces/default/tasks?route=items")
        .await;
    let listed = list["tasks"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["id"] == id.as_str()))
        .unwrap_or_else(|| panic!("task {id} in {list}"));
    assert_eq!(listed["traceId"], TRACE_ID, "{list}");

    let spans = spans_where(
        &sink,
        "intake, step, queue wait and two attempts",
        |spans| {
            !named(spans, "intake webhook").is_empty()
                && !named(spans, "queue wait").is_empty()
                && attempts(spans).len() == 2
        },
    )
    .await;
    assert!(spans.iter().all(|s| s.transport == "http/protobuf"));
    assert!(
        spans
            .iter()
            .all(|s| s.service.as_deref() == Some("runner-under-test")),
        "{spans:#?}"
    );

    // The intake span is the child of the caller's span.
    let intake = named(&spans, "intake webhook");
    assert_eq!(intake.len(), 1, "{spans:#?}");
    let intake = intake[0];
    assert_eq!(intake.parent_span_id, CALLER_SPAN);
    assert_eq!(intake.attribute("switchyard.route"), "items");
    assert_eq!(intake.attribute("switchyard.tasks"), 1);
    assert_eq!(intake.attribute("http.response.status_code"), 202);

    // The incoming step (the route's jq) runs under the intake.
    let steps: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.attribute("switchyard.step.kind") == "jq")
        .collect();
    assert_eq!(steps.len(), 1, "{spans:#?}");
    assert_eq!(steps[0].parent_span_id, intake.span_id);
    assert_eq!(steps[0].attribute("switchyard.items.in"), 1);
    assert_eq!(steps[0].attribute("switchyard.items.out"), 1);

    // The queue wait and both attempts are children of the intake.
    let wait = named(&spans, "queue wait");
    assert_eq!(wait.len(), 1, "{spans:#?}");
    assert_eq!(wait[0].parent_span_id, intake.span_id);
    assert!(wait[0].end_ns >= wait[0].start_ns);
    let attempts = attempts(&spans);
    for (number, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt.parent_span_id, intake.span_id, "{attempt:#?}");
        assert_eq!(attempt.attribute("switchyard.task"), id.as_str());
        assert_eq!(attempt.attribute("switchyard.attempt"), number as i64 + 1);
    }
    assert_eq!(attempts[0].attribute("switchyard.outcome"), "retry");
    assert_eq!(attempts[0].status, 2, "an error status: {:#?}", attempts[0]);
    assert_eq!(attempts[1].attribute("switchyard.outcome"), "done");
    assert_ne!(attempts[1].status, 2);

    // Each request the receiver got carries the traceparent of its attempt's span.
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    for (request, attempt) in received.iter().zip(&attempts) {
        assert_eq!(span_of_header(&request.headers), attempt.span_id);
    }
    // No span carries the item.
    let exported = serde_json::to_string(
        &sink
            .spans()
            .iter()
            .map(|s| &s.attributes)
            .collect::<Vec<_>>(),
    )
    .expect("json");
    assert!(!exported.contains("secret-free"), "{exported}");
}

#[tokio::test]
async fn the_trace_survives_a_runner_restart_between_intake_and_delivery() {
    let Some(sink) = OtlpSink::start(OtlpTransport::HttpProtobuf).await else {
        return;
    };
    // Nothing listens at first: the attempts fail until the runner is restarted.
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let manifests = manifest_dir(&[("route.yaml", &scenario::webhook_route(&base_url, 1))]);
    let options = tracing_to(&sink, "http/protobuf");
    let mut runner = Runner::start(runner_bin!(), manifests.path(), &options).await;
    let id = post_item(&runner, Some(&traceparent())).await;
    eventually(Duration::from_secs(30), "a failed attempt", || async {
        (task(&runner, &id).await["attempts"].as_i64().unwrap_or(0) >= 1).then_some(())
    })
    .await;
    let first_process = spans_where(&sink, "the first runner's spans", |spans| {
        !named(spans, "intake webhook").is_empty() && !attempts(spans).is_empty()
    })
    .await;
    let intake = named(&first_process, "intake webhook")[0].span_id.clone();
    runner.terminate();

    let receiver = Receiver::start_on(
        port,
        ReceiverMode::Accept {
            delay: Duration::ZERO,
        },
    )
    .await;
    let data_dir = runner.data_dir.clone();
    let runner = Runner::restart(runner_bin!(), manifests.path(), &data_dir, &options).await;
    eventually(
        Duration::from_secs(30),
        "the task delivered after the restart",
        || async { (task(&runner, &id).await["state"] == "done").then_some(()) },
    )
    .await;
    assert_eq!(task(&runner, &id).await["traceId"], TRACE_ID);

    // The delivering attempt, in the second process, is a child of the first process's
    // intake, and the receiver got its traceparent.
    let spans = spans_where(&sink, "the delivered attempt's span", |spans| {
        attempts(spans)
            .iter()
            .any(|a| a.attribute("switchyard.outcome") == "done")
    })
    .await;
    let done: Vec<&ReceivedSpan> = attempts(&spans)
        .into_iter()
        .filter(|a| a.attribute("switchyard.outcome") == "done")
        .collect();
    assert_eq!(done.len(), 1, "{spans:#?}");
    assert_eq!(done[0].parent_span_id, intake);
    let received = receiver.received();
    let last = received.last().expect("a delivery");
    assert_eq!(span_of_header(&last.headers), done[0].span_id);
}

#[tokio::test]
async fn grpc_export_carries_the_same_trace() {
    let Some(sink) = OtlpSink::start(OtlpTransport::Grpc).await else {
        return;
    };
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 1),
    )]);
    let runner = Runner::start(runner_bin!(), manifests.path(), &tracing_to(&sink, "grpc")).await;
    post_item(&runner, Some(&traceparent())).await;
    let spans = spans_where(&sink, "the intake and the attempt over gRPC", |spans| {
        !named(spans, "intake webhook").is_empty() && !attempts(spans).is_empty()
    })
    .await;
    assert!(
        spans.iter().all(|s| s.transport == "grpc"),
        "{}",
        sink.log()
    );
    let intake = named(&spans, "intake webhook")[0];
    assert_eq!(intake.parent_span_id, CALLER_SPAN);
    assert_eq!(attempts(&spans)[0].parent_span_id, intake.span_id);
    let received = receiver.received();
    assert_eq!(
        span_of_header(&received[0].headers),
        attempts(&spans)[0].span_id
    );
}

#[tokio::test]
async fn json_log_lines_carry_the_trace_and_span_ids() {
    let Some(sink) = OtlpSink::start(OtlpTransport::HttpProtobuf).await else {
        return;
    };
    // A permanent failure: the task fails at its first attempt and writes `Task failed`.
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 422,
        body: "unknown customer".into(),
        headers: Vec::new(),
    })
    .await;
    let manifests = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 1),
    )]);
    let mut options = tracing_to(&sink, "http/protobuf");
    options
        .env
        .push(("SWITCHYARD_LOG_FORMAT".into(), "json".into()));
    let runner = Runner::start(runner_bin!(), manifests.path(), &options).await;
    let id = post_item(&runner, Some(&traceparent())).await;
    eventually(Duration::from_secs(30), "the task failed", || async {
        (task(&runner, &id).await["state"] == "failed").then_some(())
    })
    .await;
    let spans = spans_where(&sink, "the attempt span", |spans| {
        attempts(spans).len() == 1
    })
    .await;
    let attempt = attempts(&spans)[0].span_id.clone();
    let line = eventually(Duration::from_secs(10), "the Task failed line", || async {
        runner.log().lines().find_map(|line| {
            let value: Value = serde_json::from_str(line).ok()?;
            (value["fields"]["event"] == "task_failed").then_some(value)
        })
    })
    .await;
    assert_eq!(line["trace_id"], TRACE_ID, "{line}");
    assert_eq!(line["span_id"], attempt.as_str(), "{line}");
    assert_eq!(line["fields"]["task"], id.as_str(), "{line}");
    // Lines outside any traced span (start-up) carry no ids.
    let first: Value = runner
        .log()
        .lines()
        .find_map(|line| serde_json::from_str(line).ok())
        .expect("a JSON line");
    assert!(first.get("trace_id").is_none(), "{first}");
}

#[tokio::test]
async fn with_tracing_off_no_traceparent_is_sent_and_tasks_have_no_trace_id() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 1),
    )]);
    let runner = Runner::start(runner_bin!(), manifests.path(), &RunnerOptions::default()).await;
    let id = post_item(&runner, Some(&traceparent())).await;
    eventually(Duration::from_secs(30), "the task delivered", || async {
        (task(&runner, &id).await["state"] == "done").then_some(())
    })
    .await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert!(
        !received[0].headers.contains_key("traceparent"),
        "{:?}",
        received[0].headers
    );
    let detail = task(&runner, &id).await;
    assert!(detail.get("traceId").is_none(), "{detail}");
}

#[tokio::test]
async fn a_bad_trace_setting_stops_the_runner_with_the_variable_named() {
    let manifests = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route("http://127.0.0.1:9", 1),
    )]);
    let data = tempfile::tempdir().expect("data dir");
    let output = std::process::Command::new(runner_bin!())
        .args(["run", "-f"])
        .arg(manifests.path())
        .arg("--data-dir")
        .arg(data.path())
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .output()
        .expect("run the runner");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=`http/json`: use `http/protobuf` or `grpc`"),
        "{stderr}"
    );
}
