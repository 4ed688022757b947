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

mod clients;
mod faults;
mod survives;

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_e2e::faultfs::FsKind;
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin, scenario,
};

use clients::{Answer, Seen, accepted_are_queued_and_delivered, start_clients};
use faults::{Fault, immutable_refuses_open_files, mount_or_skip};
use survives::survives;

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
    let started = Instant::now();
    let tasks = start_clients(&runner, &seen);
    seen.accepted_since(started, 30, "intake under way").await;
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
    seen.accepted_since(resumed_at, 30, "intake after the last loss")
        .await;
    seen.stop(tasks).await;
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
    accepted_are_queued_and_delivered(&runner, &receiver, &accepted).await;
    drop(answers);
    drop(runner);
    database.drop_now().await;
}
