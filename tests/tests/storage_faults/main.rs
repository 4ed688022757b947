//! Accepted stays durable when the queue's storage fails.
//!
//! The runner's data directory (its SQLite queue) sits on a small file system. Concurrent
//! clients post webhook items while the test fills that file system (or makes the queue
//! files immutable), then frees it again. Every id answered `202` must be in the queue
//! and be delivered; while commits fail the webhook answers `503` with `Retry-After` and
//! a reason, `/readyz` is not ready, and a metric and a log line say why; once the fault
//! clears, the runner recovers by itself and every request is accepted again.
//!
//! The same with the PostgreSQL queue whose connections are terminated during intake.
//!
//! Mounting needs root. The tmpfs variant must run under `CI=true`; where the machine
//! does not allow the others, they print `SKIPPED` and pass.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::faultfs::{FaultFs, FsKind};
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, in_ci, manifest_dir, runner_bin,
    scenario,
};
use tokio::sync::Mutex;

const CLIENTS: usize = 6;
const PER_REQUEST: usize = 20;
/// Big enough that the queue outgrows no free space of its own before the test fills
/// the rest; small enough to fill in a moment.
const FS_MB: u64 = 64;

/// One webhook request and its answer.
struct Answer {
    sent: Instant,
    status: u16,
    retry_after: Option<String>,
    error: String,
    task_ids: Vec<String>,
    item_ids: Vec<String>,
}

/// What the clients and the readiness watcher saw.
#[derive(Default)]
struct Seen {
    answers: Mutex<Vec<Answer>>,
    /// `/readyz` answers: when, status, body.
    readiness: Mutex<Vec<(Instant, u16, String)>>,
    stop: AtomicBool,
}

impl Seen {
    async fn count(&self, filter: impl Fn(&Answer) -> bool) -> usize {
        self.answers
            .lock()
            .await
            .iter()
            .filter(|a| filter(a))
            .count()
    }

    async fn readiness_since(&self, since: Instant, status: u16) -> Option<String> {
        self.readiness
            .lock()
            .await
            .iter()
            .find(|(at, s, _)| *at >= since && *s == status)
            .map(|(_, _, body)| body.clone())
    }
}

/// Posts batches of new items until told to stop, recording every answer.
async fn client(url: String, number: usize, seen: Arc<Seen>) {
    let http = reqwest::Client::new();
    for request in 0.. {
        if seen.stop.load(Ordering::SeqCst) {
            return;
        }
        let item_ids: Vec<String> = (0..PER_REQUEST)
            .map(|i| format!("c{number}-r{request}-i{i}"))
            .collect();
        let items: Vec<Value> = item_ids
            .iter()
            .map(|id| json!({"id": id, "payload": "x".repeat(300)}))
            .collect();
        let sent = Instant::now();
        let Ok(response) = http.post(&url).json(&items).send().await else {
            // The runner is gone (or the test is over): record it; the checks fail on it.
            seen.answers.lock().await.push(Answer {
                sent,
                status: 0,
                retry_after: None,
                error: "no answer".into(),
                task_ids: Vec::new(),
                item_ids,
            });
            return;
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let task_ids = body["taskIds"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let refused = status != 202;
        seen.answers.lock().await.push(Answer {
            sent,
            status,
            retry_after,
            error: body["error"].as_str().unwrap_or_default().to_owned(),
            task_ids,
            item_ids,
        });
        if refused {
            // A sender backs off a little before it retries.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Polls `/readyz` until told to stop.
async fn watch_readiness(url: String, seen: Arc<Seen>) {
    let http = reqwest::Client::new();
    while !seen.stop.load(Ordering::SeqCst) {
        if let Ok(response) = http.get(&url).send().await {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            seen.readiness
                .lock()
                .await
                .push((Instant::now(), status, body));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every task id of route `items`, through the API's pages.
async fn queued_task_ids(runner: &Runner) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor = String::new();
    loop {
        let page = runner
            .get_json(&format!(
                "/api/v1/namespaces/default/tasks?route=items&limit=1000{cursor}"
            ))
            .await;
        for task in page["tasks"].as_array().into_iter().flatten() {
            if let Some(id) = task["id"].as_str() {
                ids.insert(id.to_owned());
            }
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return ids,
        }
    }
}

/// Mounts `kind`, or says why not: a required variant fails under CI, others skip.
fn mount_or_skip(kind: FsKind, required: bool) -> Option<FaultFs> {
    match FaultFs::mount(kind, FS_MB) {
        Ok(fs) => Some(fs),
        Err(reason) => {
            let message = format!("cannot mount a {kind:?} file system here: {reason}");
            assert!(
                !(required && in_ci()),
                "{message}; CI requires this variant"
            );
            eprintln!("SKIPPED: {message}");
            None
        }
    }
}

/// How the storage fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The file system fills up.
    Full,
    /// The queue files become immutable (`chattr +i`): writes fail with EPERM.
    Immutable,
}

impl Fault {
    /// The `reason` labels the runner may give for it.
    fn reasons(self) -> &'static [&'static str] {
        match self {
            Self::Full => &["disk_full"],
            Self::Immutable => &["io_error", "read_only"],
        }
    }
}

/// The fault, in force until cleared.
enum Applied {
    Full(switchyard_e2e::faultfs::Filler),
    Immutable(Vec<std::path::PathBuf>),
}

fn apply(fs: &FaultFs, data_dir: &std::path::Path, fault: Fault) -> Result<Applied, String> {
    match fault {
        Fault::Full => fs
            .fill()
            .map(Applied::Full)
            .map_err(|e| format!("cannot fill: {e}")),
        Fault::Immutable => {
            // Not the `-shm` wal-index: SQLite writes it through a shared memory map,
            // and a store into an immutable (or read-only remounted) file's map is a
            // SIGBUS, which kills any process; it holds nothing durable either.
            let files: Vec<_> = ["queue.db", "queue.db-wal"]
                .iter()
                .map(|name| data_dir.join(name))
                .filter(|path| path.exists())
                .collect();
            let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
            fs.set_immutable(&paths, true)?;
            Ok(Applied::Immutable(files))
        }
    }
}

fn clear(fs: &FaultFs, applied: Applied) {
    match applied {
        Applied::Full(filler) => filler.free().expect("free the filler"),
        Applied::Immutable(files) => {
            let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
            fs.set_immutable(&paths, false).expect("chattr -i");
        }
    }
}

async fn survives(fs: FaultFs, fault: Fault) {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 8),
    )]);
    let logs = tempfile::tempdir().expect("log dir");
    let data_dir = fs.path.join("data");
    std::fs::create_dir(&data_dir).expect("data dir");
    // Short leases: a delivery whose outcome could not be committed runs again soon.
    let options = RunnerOptions {
        lease_seconds: Some(2),
        log_dir: Some(logs.path().to_owned()),
        ..RunnerOptions::default()
    };
    let runner = Runner::restart(runner_bin!(), manifests.path(), &data_dir, &options).await;
    let seen = Arc::new(Seen::default());
    let mut tasks = Vec::new();
    for number in 0..CLIENTS {
        tasks.push(tokio::spawn(client(
            runner.url("/webhooks/default/items"),
            number,
            seen.clone(),
        )));
    }
    tasks.push(tokio::spawn(watch_readiness(
        runner.url("/readyz"),
        seen.clone(),
    )));
    eventually(Duration::from_secs(30), "intake under way", || async {
        (seen.count(|a| a.status == 202).await >= 30).then_some(())
    })
    .await;

    // The fault, during intake. A full disk is kept full: whatever the queue frees is
    // taken again at once.
    let fault_at = Instant::now();
    let mut applied = tokio::task::block_in_place(|| apply(&fs, &data_dir, fault))
        .unwrap_or_else(|e| panic!("cannot apply {fault:?}: {e}"));
    // Generous: on a loop device the host disk's load slows every fsync.
    let deadline = fault_at + Duration::from_secs(60);
    loop {
        if let Applied::Full(filler) = &mut applied {
            tokio::task::block_in_place(|| filler.top_up()).expect("top up");
        }
        let refused = seen.count(|a| a.sent >= fault_at && a.status == 503).await;
        let not_ready = seen.readiness_since(fault_at, 503).await.is_some();
        if refused >= 5 && not_ready && fault_at.elapsed() >= Duration::from_secs(1) {
            break;
        }
        if Instant::now() >= deadline {
            let answered = seen.count(|a| a.sent >= fault_at).await;
            let unanswered = seen.count(|a| a.status == 0).await;
            let readiness = seen.readiness.lock().await.last().cloned();
            panic!(
                "no 503s ({refused}) or no not-ready /readyz ({not_ready}) 60 s into {fault:?}; \
                 {answered} requests answered since ({unanswered} without an answer: the \
                 runner died), last readiness {readiness:?}; log:\n{}",
                runner.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Whatever was accepted during the fault is already in the queue, not only promised.
    let accepted_in_fault: Vec<String> = seen
        .answers
        .lock()
        .await
        .iter()
        .filter(|a| a.sent >= fault_at && a.status == 202)
        .flat_map(|a| a.task_ids.clone())
        .collect();
    for id in &accepted_in_fault {
        let response = runner
            .client
            .get(runner.url(&format!("/api/v1/namespaces/default/tasks/{id}")))
            .send()
            .await
            .expect("GET task");
        assert_eq!(
            response.status().as_u16(),
            200,
            "task {id} was answered 202 during {fault:?} but is not in the queue"
        );
    }
    let not_ready = seen
        .readiness_since(fault_at, 503)
        .await
        .unwrap_or_default();
    assert!(
        not_ready.contains("commit"),
        "/readyz should say that commits fail: {not_ready}"
    );
    let metrics = runner
        .client
        .get(runner.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics");
    assert!(
        fault.reasons().iter().any(|reason| {
            metrics.lines().any(|line| {
                line.starts_with("switchyard_queue_commit_failures_total")
                    && line.contains(&format!("reason=\"{reason}\""))
            })
        }),
        "no commit failure metric with a reason in {:?}:\n{metrics}",
        fault.reasons()
    );

    // The fault clears; the runner recovers by itself.
    let cleared_at = Instant::now();
    tokio::task::block_in_place(|| clear(&fs, applied));
    eventually(Duration::from_secs(30), "/readyz ready again", || async {
        seen.readiness_since(cleared_at, 200).await.map(|_| ())
    })
    .await;
    let ready_at = Instant::now();
    eventually(Duration::from_secs(30), "intake after recovery", || async {
        (seen.count(|a| a.sent >= ready_at && a.status == 202).await >= 30).then_some(())
    })
    .await;
    seen.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.expect("client");
    }

    let answers = seen.answers.lock().await;
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status != 202).collect();
    for answer in &refused {
        assert_eq!(answer.status, 503, "unexpected answer: {}", answer.error);
        assert!(
            answer.retry_after.is_some(),
            "a 503 without Retry-After: {}",
            answer.error
        );
        assert!(
            answer.error.contains("nothing was queued") && answer.error.contains("queue"),
            "a 503 without a reason: {}",
            answer.error
        );
        assert!(
            answer.sent < ready_at,
            "refused after the runner was ready again: {}",
            answer.error
        );
    }
    let accepted: Vec<&Answer> = answers.iter().filter(|a| a.status == 202).collect();
    eprintln!(
        "{fault:?} on {:?}: {} requests accepted ({} during the fault), {} refused, e.g. {:?}",
        fs.kind(),
        accepted.len(),
        accepted_in_fault.len() / PER_REQUEST,
        refused.len(),
        refused.first().map(|a| a.error.as_str()),
    );

    // Every accepted task is in the queue…
    let queued = queued_task_ids(&runner).await;
    let missing: Vec<&String> = accepted
        .iter()
        .flat_map(|a| &a.task_ids)
        .filter(|id| !queued.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of the tasks answered 202 are not in the queue, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    // …and is delivered.
    let wanted: HashSet<&String> = accepted.iter().flat_map(|a| &a.item_ids).collect();
    eventually(
        Duration::from_secs(120),
        "every accepted item delivered",
        || async {
            let delivered: HashSet<String> = receiver
                .received()
                .iter()
                .filter_map(|r| r.body["id"].as_str().map(str::to_owned))
                .collect();
            wanted
                .iter()
                .all(|id| delivered.contains(*id))
                .then_some(())
        },
    )
    .await;

    let log = runner.log();
    assert!(
        log.contains("Queue commits are failing")
            && fault
                .reasons()
                .iter()
                .any(|r| log.contains(&format!("reason={r}")))
            && log.contains("Queue commits succeed again"),
        "the log should say why commits failed and that they recovered:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tmpfs_filling_up_during_intake() {
    let Some(fs) = mount_or_skip(FsKind::Tmpfs, true) else {
        return;
    };
    survives(fs, Fault::Full).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loop_mounted_ext4_filling_up_during_intake() {
    let Some(fs) = mount_or_skip(FsKind::Ext4Loop, false) else {
        return;
    };
    survives(fs, Fault::Full).await;
}

/// Immutable files (`chattr +i`) refuse writes even through descriptors opened before,
/// on ext4; a tmpfs only refuses new opens, which the runner's open queue never needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_files_turning_read_only_during_intake() {
    let Some(fs) = mount_or_skip(FsKind::Ext4Loop, false) else {
        return;
    };
    if let Err(reason) = immutable_refuses_open_files(&fs) {
        eprintln!("SKIPPED: chattr +i does not make open files read-only here: {reason}");
        return;
    }
    survives(fs, Fault::Immutable).await;
}

fn immutable_refuses_open_files(fs: &FaultFs) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    let probe = fs.path.join("probe");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&probe)
        .map_err(|e| e.to_string())?;
    fs.set_immutable(&[&probe], true)?;
    let written = file.write_at(b"x", 0);
    fs.set_immutable(&[&probe], false)?;
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        other => Err(format!("a write through an open descriptor gave {other:?}")),
    }
}

/// PostgreSQL: the runner's connections are terminated during intake, some of them in
/// the middle of a commit. Answers may be 503 (nothing queued), but every 202 is in the
/// queue and is delivered, and the runner reconnects by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_connections_lost_during_intake() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 8),
    )]);
    let options = RunnerOptions {
        queue_url: Some(database.url.clone()),
        lease_seconds: Some(2),
        ..RunnerOptions::default()
    };
    let runner = Runner::start(runner_bin!(), manifests.path(), &options).await;
    let seen = Arc::new(Seen::default());
    let mut tasks = Vec::new();
    for number in 0..CLIENTS {
        tasks.push(tokio::spawn(client(
            runner.url("/webhooks/default/items"),
            number,
            seen.clone(),
        )));
    }
    eventually(Duration::from_secs(30), "intake under way", || async {
        (seen.count(|a| a.status == 202).await >= 30).then_some(())
    })
    .await;
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&format!(
        "{}/postgres",
        switchyard_e2e::pg::SERVER
    ))
    .await
    .expect("admin connection");
    let mut terminated = 0;
    for _ in 0..10 {
        let rows: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&database.name)
        .fetch_all(&mut admin)
        .await
        .expect("terminate the runner's connections");
        terminated += rows.len();
        let before = seen.count(|a| a.status == 202).await;
        eventually(Duration::from_secs(30), "intake resumed", || async {
            (seen.count(|a| a.status == 202).await > before).then_some(())
        })
        .await;
    }
    assert!(terminated > 0, "no runner connection was terminated");
    let resumed_at = Instant::now();
    eventually(
        Duration::from_secs(30),
        "intake after the last loss",
        || async {
            (seen
                .count(|a| a.sent >= resumed_at && a.status == 202)
                .await
                >= 30)
                .then_some(())
        },
    )
    .await;
    seen.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.expect("client");
    }
    let answers = seen.answers.lock().await;
    for answer in answers.iter().filter(|a| a.status != 202) {
        assert_eq!(answer.status, 503, "unexpected answer: {}", answer.error);
        assert!(answer.retry_after.is_some(), "503 without Retry-After");
    }
    let accepted: Vec<&Answer> = answers.iter().filter(|a| a.status == 202).collect();
    eprintln!(
        "PostgreSQL: {terminated} connections terminated; {} requests accepted, {} refused",
        accepted.len(),
        answers.len() - accepted.len()
    );
    let queued = queued_task_ids(&runner).await;
    let missing = accepted
        .iter()
        .flat_map(|a| &a.task_ids)
        .filter(|id| !queued.contains(*id))
        .count();
    assert_eq!(missing, 0, "tasks answered 202 are missing from the queue");
    let wanted: HashSet<&String> = accepted.iter().flat_map(|a| &a.item_ids).collect();
    eventually(
        Duration::from_secs(120),
        "every accepted item delivered",
        || async {
            let delivered: HashSet<String> = receiver
                .received()
                .iter()
                .filter_map(|r| r.body["id"].as_str().map(str::to_owned))
                .collect();
            wanted
                .iter()
                .all(|id| delivered.contains(*id))
                .then_some(())
        },
    )
    .await;
    drop(answers);
    drop(runner);
    database.drop_now().await;
}
