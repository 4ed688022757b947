//! Nothing is lost when the runner is killed mid-flight: 10,000 items, SIGKILL while
//! they are being accepted and delivered, restart, every item delivered at least once.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin, scenario,
};

const ITEMS: usize = 10_000;
const PER_REQUEST: usize = 50;

/// Posts every batch until it is acknowledged with 202, retrying through the runner's
/// downtime like a real sender would. `port` is read on every try so the sender follows
/// the restarted runner.
async fn send_all(port: Arc<AtomicUsize>, acknowledged: Arc<AtomicUsize>) {
    let client = reqwest::Client::new();
    futures::stream::iter(0..ITEMS / PER_REQUEST)
        .for_each_concurrent(4, |batch| {
            let client = client.clone();
            let port = port.clone();
            let acknowledged = acknowledged.clone();
            async move {
                let items: Vec<_> = (0..PER_REQUEST)
                    .map(|i| json!({"id": batch * PER_REQUEST + i, "payload": "x".repeat(64)}))
                    .collect();
                for _ in 0..600 {
                    let url = format!(
                        "http://127.0.0.1:{}/webhooks/default/items",
                        port.load(Ordering::SeqCst)
                    );
                    if let Ok(response) = client.post(&url).json(&items).send().await
                        && response.status().as_u16() == 202
                    {
                        acknowledged.fetch_add(PER_REQUEST, Ordering::SeqCst);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                panic!("batch {batch} was never accepted");
            }
        })
        .await;
}

async fn survives_sigkill(queue_url: Option<String>) {
    // A slow receiver keeps deliveries in flight when the kill comes.
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::from_millis(2),
    })
    .await;
    let manifests = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 16),
    )]);
    // Short leases: on a shared PostgreSQL queue a killed runner's tasks come back when
    // their leases expire.
    let options = RunnerOptions {
        queue_url,
        lease_seconds: Some(5),
        ..Default::default()
    };
    let mut runner = Runner::start(runner_bin!(), manifests.path(), &options).await;
    let data_dir = runner.data_dir.clone();

    let port = Arc::new(AtomicUsize::new(usize::from(runner.port)));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let sender = tokio::spawn(send_all(port.clone(), acknowledged.clone()));

    // Kill while items are both arriving and being delivered.
    eventually(
        Duration::from_secs(60),
        "intake and deliveries under way",
        || async {
            (acknowledged.load(Ordering::SeqCst) >= 3_000 && receiver.count() >= 100).then_some(())
        },
    )
    .await;
    runner.kill();
    let at_kill = (acknowledged.load(Ordering::SeqCst), receiver.count());
    assert!(
        at_kill.0 < ITEMS,
        "all items were accepted before the kill; the test proves nothing"
    );

    let restarted = Runner::restart(runner_bin!(), manifests.path(), &data_dir, &options).await;
    port.store(usize::from(restarted.port), Ordering::SeqCst);
    sender.await.expect("sender");

    let delivered = eventually(Duration::from_secs(180), "every item delivered", || async {
        let ids: HashSet<u64> = receiver
            .received()
            .iter()
            .filter_map(|r| r.body["id"].as_u64())
            .collect();
        (ids.len() == ITEMS).then_some(ids)
    })
    .await;
    assert_eq!(delivered, (0..ITEMS as u64).collect::<HashSet<_>>());
    // Every delivery carried its task id as idempotency key, so the receiver can drop the
    // duplicates at-least-once delivery may cause.
    assert!(receiver.received().iter().all(|r| {
        r.headers
            .get("idempotency-key")
            .is_some_and(|k| k.len() == 36)
    }));
    // A batch whose 202 was lost in the kill was sent again by the sender, so there may
    // be more tasks than items: every one of them must end `done`.
    let counts = eventually(Duration::from_secs(60), "the queue to settle", || async {
        let counts = restarted.counts("items").await;
        let open = counts["pending"].as_u64()? + counts["processing"].as_u64()?;
        (open == 0 && counts["done"].as_u64()? >= ITEMS as u64).then_some(counts)
    })
    .await;
    assert_eq!(counts["failed"], 0, "{counts}");
    eprintln!(
        "killed with {} of {ITEMS} items acknowledged and {} deliveries made; {} deliveries in all",
        at_kill.0,
        at_kill.1,
        receiver.count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_item_is_lost_when_the_runner_is_killed_sqlite() {
    survives_sigkill(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_item_is_lost_when_the_runner_is_killed_postgres() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    survives_sigkill(Some(database.url.clone())).await;
    database.drop_now().await;
}
