//! Three runners on one PostgreSQL queue share the work and never duplicate it: each
//! poll tick runs on one of them (an HTTP feed with a cursor, a folder of files), a
//! webhook is accepted by any of them, and when one is killed (SIGKILL) in the middle,
//! the others take over its tasks and its polls. Every record is fetched once, every
//! file is read once, every accepted item is delivered, none twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

/// A feed that grows by one record on every fetch and answers every record after
/// `since`: a fetch that repeats a cursor value (two runners polling one tick, or a
/// cursor that did not move) shows up in `asked`.
#[derive(Clone, Default)]
struct Feed {
    state: Arc<Mutex<FeedState>>,
    /// Once set, fetches add nothing and are not recorded (the end of the test).
    frozen: Arc<AtomicBool>,
}

#[derive(Default)]
struct FeedState {
    /// The newest record's number.
    last: u64,
    /// The `since` of every fetch, in order.
    asked: Vec<u64>,
}

async fn feed(State(feed): State<Feed>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let since: u64 = q
        .get("since")
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let mut state = feed.state.lock().expect("lock");
    if !feed.frozen.load(Ordering::SeqCst) {
        state.last += 1;
        state.asked.push(since);
    }
    let records: Vec<Value> = (since + 1..=state.last)
        .map(|seq| json!({"seq": seq}))
        .collect();
    Json(json!({"data": records}))
}

fn manifests(feed: &str, root: &Path, sinks: [&Receiver; 3]) -> String {
    let [http_sink, file_sink, hook_sink] = sinks.map(Receiver::base_url);
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: feed}}
spec:
  http: {{baseUrl: "{feed}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: drop}}
spec:
  fileSystem:
    local: {{root: "{root}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: http-sink}}
spec:
  http: {{baseUrl: "{http_sink}", timeoutSeconds: 5}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: file-sink}}
spec:
  http: {{baseUrl: "{file_sink}", timeoutSeconds: 5}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: hook-sink}}
spec:
  http: {{baseUrl: "{hook_sink}", timeoutSeconds: 5}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: records}}
spec:
  incoming:
    poll:
      connection: feed
      schedule: "* * * * * *"
      request: {{path: /records}}
      itemsPointer: /data
      cursor: {{param: since, field: seq, key: seq, initial: "0"}}
  outgoing:
    connection: http-sink
  processing:
    retry: {{maxAttempts: 1000, initialBackoffMs: 100, maxBackoffMs: 1000}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: files}}
spec:
  incoming:
    poll:
      connection: drop
      schedule: "* * * * * *"
      files: {{path: inbox, glob: "*.json", format: json}}
  outgoing:
    connection: file-sink
  processing:
    retry: {{maxAttempts: 1000, initialBackoffMs: 100, maxBackoffMs: 1000}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: hook}}
spec:
  incoming:
    webhook: {{}}
  outgoing:
    connection: hook-sink
  processing:
    retry: {{maxAttempts: 1000, initialBackoffMs: 100, maxBackoffMs: 1000}}
"#,
        root = root.display(),
    )
}

/// How often each value occurs.
fn occurrences<T: Ord>(values: impl IntoIterator<Item = T>) -> BTreeMap<T, usize> {
    let mut counts = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_insert(0) += 1;
    }
    counts
}

/// Values that occur more than once.
fn repeated<T: Ord + Clone>(counts: &BTreeMap<T, usize>) -> Vec<T> {
    counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(value, _)| value.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_poll_each_tick_once_and_lose_nothing_when_one_is_killed() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let feed_state = Feed::default();
    let feed_url = switchyard_e2e::serve(
        Router::new()
            .route("/records", get(feed))
            .with_state(feed_state.clone()),
    )
    .await;
    let accept = || ReceiverMode::Accept {
        delay: Duration::ZERO,
    };
    let http_sink = Receiver::start(accept()).await;
    let file_sink = Receiver::start(accept()).await;
    let hook_sink = Receiver::start(accept()).await;
    let root = tempfile::tempdir().expect("file root");
    let inbox = root.path().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let dir = manifest_dir(&[(
        "manifests.yaml",
        &manifests(&feed_url, root.path(), [&http_sink, &file_sink, &hook_sink]),
    )]);
    // Short task leases: the killed runner's tasks come back within seconds.
    let options = RunnerOptions {
        queue_url: Some(db.url.clone()),
        lease_seconds: Some(5),
        ..Default::default()
    };
    let mut runners = Vec::new();
    for _ in 0..3 {
        runners.push(Runner::start(runner_bin!(), dir.path(), &options).await);
    }
    let started = Instant::now();

    // Files dropped while the runners poll (written aside, then renamed in, so no poll
    // sees half a file), and webhook items sent to every runner in turn.
    const FILES: u64 = 30;
    const LINES: u64 = 3;
    let ports: Arc<Mutex<Vec<u16>>> =
        Arc::new(Mutex::new(runners.iter().map(|r| r.port).collect()));
    let accepted = Arc::new(Mutex::new(Vec::<u64>::new()));
    let sent = Arc::new(AtomicU64::new(0));
    let producer = {
        let inbox = inbox.clone();
        let ports = ports.clone();
        let accepted = accepted.clone();
        let sent = sent.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for file in 1..=FILES {
                let lines: Vec<Value> = (1..=LINES)
                    .map(|line| json!({"file": file, "line": line}))
                    .collect();
                let aside = inbox.join(format!("order-{file:03}.tmp"));
                std::fs::write(&aside, serde_json::to_vec(&lines).expect("JSON"))
                    .expect("write file");
                std::fs::rename(&aside, inbox.join(format!("order-{file:03}.json")))
                    .expect("drop file");
                for _ in 0..3 {
                    let id = sent.fetch_add(1, Ordering::SeqCst);
                    let live = ports.lock().expect("lock").clone();
                    let port = live[id as usize % live.len()];
                    let answer = client
                        .post(format!("http://127.0.0.1:{port}/webhooks/default/hook"))
                        .json(&json!({"hook": id}))
                        .send()
                        .await;
                    if answer.is_ok_and(|a| a.status().as_u16() == 202) {
                        accepted.lock().expect("lock").push(id);
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    // In the middle: SIGKILL one runner, with whatever it holds (leases, maybe a poll).
    eventually(Duration::from_secs(60), "half the files dropped", || {
        let n = std::fs::read_dir(root.path().join("inbox/processed"))
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        async move { (n >= FILES / 2).then_some(()) }
    })
    .await;
    let mut killed = runners.remove(1);
    ports.lock().expect("lock").retain(|p| *p != killed.port);
    killed.kill();
    producer.await.expect("producer");

    // Every file read and moved once, every line delivered once.
    let expected_lines: BTreeSet<(u64, u64)> = (1..=FILES)
        .flat_map(|file| (1..=LINES).map(move |line| (file, line)))
        .collect();
    let lines_of = |sink: &Receiver| -> Vec<(u64, u64)> {
        sink.received()
            .iter()
            .map(|r| {
                (
                    r.body["file"].as_u64().expect("file"),
                    r.body["line"].as_u64().expect("line"),
                )
            })
            .collect()
    };
    eventually(Duration::from_secs(90), "every file line delivered", || {
        let seen: BTreeSet<(u64, u64)> = lines_of(&file_sink).into_iter().collect();
        let done = seen == expected_lines;
        async move { done.then_some(()) }
    })
    .await;
    // Every accepted webhook item delivered.
    let accepted: BTreeSet<u64> = accepted.lock().expect("lock").iter().copied().collect();
    assert!(
        accepted.len() as u64 >= FILES * 3 * 2 / 3,
        "most webhook items accepted: {}",
        accepted.len()
    );
    eventually(
        Duration::from_secs(90),
        "every accepted webhook item delivered",
        || {
            let seen: BTreeSet<u64> = hook_sink
                .received()
                .iter()
                .map(|r| r.body["hook"].as_u64().expect("hook"))
                .collect();
            let done = accepted.is_subset(&seen);
            async move { done.then_some(()) }
        },
    )
    .await;
    // The feed: stop it growing, then every record it served must be delivered.
    feed_state.frozen.store(true, Ordering::SeqCst);
    let polled_for = started.elapsed();
    let (last, asked) = {
        let state = feed_state.state.lock().expect("lock");
        (state.last, state.asked.clone())
    };
    let expected_records: BTreeSet<u64> = (1..=last).collect();
    eventually(
        Duration::from_secs(90),
        "every feed record delivered",
        || {
            let seen: BTreeSet<u64> = http_sink
                .received()
                .iter()
                .map(|r| r.body["seq"].as_u64().expect("seq"))
                .collect();
            let done = expected_records.is_subset(&seen);
            async move { done.then_some(()) }
        },
    )
    .await;

    // Once per tick: three runners on a one-second schedule fetched about once a
    // second, not three times, and each from a cursor no other fetch used. A cursor
    // value may come twice only if the killed runner was mid-poll: its fetch was never
    // committed, its claim ran out, and the next tick fetched from the same cursor.
    let asked_counts = occurrences(asked.iter().copied());
    let repeated_cursors = repeated(&asked_counts);
    assert!(
        repeated_cursors.len() <= 1,
        "cursor values fetched more than once: {repeated_cursors:?} (all: {asked:?})"
    );
    assert!(
        (asked.len() as u64) <= polled_for.as_secs() + 2,
        "{} fetches in {polled_for:?}: more than one per tick",
        asked.len()
    );
    assert!(
        asked.windows(2).all(|w| w[0] <= w[1]),
        "the cursor only moves forward: {asked:?}"
    );
    // Nothing queued twice, on any route. A task may be sent twice (the killed runner
    // may have sent some of its leased tasks before it died, and the others send them
    // again: at-least-once), but then with the same idempotency key, the task's id; a
    // second read of a file or a second fetch of a record would be a second task, with
    // a key of its own.
    for (route, sink) in [
        ("files", &file_sink),
        ("records", &http_sink),
        ("hook", &hook_sink),
    ] {
        let tasks_per_item = occurrences(
            sink.received()
                .iter()
                .map(|r| {
                    let key = r.headers.get("idempotency-key").cloned();
                    (r.body.to_string(), key.expect("an idempotency key"))
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|(item, _)| item),
        );
        let twice = repeated(&tasks_per_item);
        assert!(twice.is_empty(), "{route}: items queued twice: {twice:?}");
    }
    // Every file left the inbox for processed/, once.
    let left: Vec<String> = std::fs::read_dir(&inbox)
        .expect("inbox")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "files left in the inbox: {left:?}");
    let processed = std::fs::read_dir(inbox.join("processed"))
        .expect("processed")
        .count() as u64;
    assert_eq!(processed, FILES, "every file moved to processed/ once");

    for runner in &mut runners {
        runner.terminate();
    }
    drop(killed);
    db.drop_now().await;
}
