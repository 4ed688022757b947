//! A poll's storage writes (its advanced cursor) commit in the transaction of its tasks
//! and claim: both land together, and a lost claim writes neither.

// A test reports failure by panicking with a message.
#![allow(clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use switchyard_runner::queue::{
    NewTask, PollClaim, QueueError, QueueStore, RouteKey, SqlQueue, StoragePut, WriteBatch,
};
use switchyard_runner::storage::{StorageScope, StorageStore};

fn batch(route: &RouteKey, claim: &PollClaim, cursor: i64) -> WriteBatch {
    WriteBatch {
        new_tasks: vec![NewTask {
            id: uuid::Uuid::now_v7().to_string(),
            route: route.clone(),
            item: json!({"seq": cursor}),
            source: "poll",
            log: vec![],
            failure: None,
            provenance: None,
            trace: None,
            stored: None,
        }],
        completions: vec![],
        claim: Some(claim.clone()),
        storage: vec![StoragePut {
            scope: StorageScope::new(&route.namespace, &route.route),
            key: "connector.cursor".into(),
            value: json!({"value": cursor}),
        }],
    }
}

async fn pending(queue: &SqlQueue, route: &str) -> i64 {
    queue
        .counts("shop")
        .await
        .expect("counts")
        .iter()
        .find(|c| c.route == route)
        .map_or(0, |c| c.counts.pending)
}

#[tokio::test]
async fn the_cursor_commits_with_the_tasks_or_not_at_all() {
    let dir = tempfile::tempdir().expect("dir");
    let queue = SqlQueue::connect(&SqlQueue::default_url(dir.path()), Duration::from_secs(60))
        .await
        .expect("queue");
    let storage = queue.storage();
    let route = RouteKey {
        namespace: "shop".into(),
        route: "feed".into(),
    };
    let scope = StorageScope::new("shop", "feed");
    let claim = |tick_ms, holder: &str| PollClaim {
        route: route.clone(),
        tick_ms,
        holder: holder.into(),
    };
    let lease = Duration::from_secs(15);
    let cursor = |entry: Option<switchyard_runner::storage::StorageEntry>| {
        entry.map(|e| e.value["value"].clone())
    };
    let first = claim(1_000, "runner-a");
    assert!(queue.claim_poll(&first, lease).await.expect("claim"));
    queue.write(batch(&route, &first, 3)).await.expect("commit");
    assert_eq!(
        cursor(storage.get(&scope, "connector.cursor").await.expect("get")),
        Some(json!(3))
    );
    assert_eq!(pending(&queue, &route.route).await, 1);

    // Runner A stalls; B takes the next tick. A's late commit writes nothing at all.
    queue.release_poll(&first).await.expect("release");
    assert!(
        queue
            .claim_poll(&claim(2_000, "runner-b"), lease)
            .await
            .expect("claim")
    );
    let late = queue.write(batch(&route, &first, 7)).await;
    assert!(
        matches!(late, Err(QueueError::ClaimLost { .. })),
        "{late:?}"
    );
    assert_eq!(
        cursor(storage.get(&scope, "connector.cursor").await.expect("get")),
        Some(json!(3)),
        "the cursor moved without its tasks"
    );
    assert_eq!(
        pending(&queue, &route.route).await,
        1,
        "tasks committed without the claim"
    );
}
