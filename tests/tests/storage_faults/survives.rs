//! One storage fault during intake, from the first accepted request to the last
//! delivered item.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_e2e::faultfs::FaultFs;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin, scenario,
};

use crate::clients::{
    Answer, PER_REQUEST, Seen, accepted_are_queued_and_delivered, start_clients, watch_readiness,
};
use crate::faults::{Applied, Fault, apply, clear};

/// Intake under `fault` on `fs`: see the test crate's documentation for what must hold.
pub async fn survives(fs: FaultFs, fault: Fault) {
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
    let started = Instant::now();
    let mut tasks = start_clients(&runner, &seen);
    tasks.push(tokio::spawn(watch_readiness(
        runner.url("/readyz"),
        seen.clone(),
    )));
    seen.accepted_since(started, 30, "intake under way").await;

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
    seen.accepted_since(ready_at, 30, "intake after recovery")
        .await;
    seen.stop(tasks).await;

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

    accepted_are_queued_and_delivered(&runner, &receiver, &accepted).await;

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
