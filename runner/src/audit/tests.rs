use serde_json::json;

use super::*;
use crate::queue::SqlQueue;

async fn audit() -> (tempfile::TempDir, SqlAudit) {
    let dir = tempfile::tempdir().expect("temp dir");
    let queue = SqlQueue::connect(
        &SqlQueue::default_url(dir.path()),
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("queue");
    (dir, queue.audit())
}

fn event(namespace: &str, action: AuditAction, at_ms: i64) -> AuditEvent {
    AuditEvent {
        at_ms,
        ..AuditEvent::new(
            namespace,
            "alice (oidc)".into(),
            Some("127.0.0.1".into()),
            action,
            "task-1",
            json!({"state": "pending"}),
        )
    }
}

#[tokio::test]
async fn events_are_listed_newest_first_by_namespace_and_action_and_purged_by_age() {
    let (_dir, log) = audit().await;
    for (namespace, action, at) in [
        ("shop", AuditAction::Retry, 1_000),
        ("shop", AuditAction::Discard, 2_000),
        ("other", AuditAction::Retry, 3_000),
        ("shop", AuditAction::Retry, 4_000),
    ] {
        log.record(&event(namespace, action, at))
            .await
            .expect("record");
    }
    let all = log
        .list(
            "shop",
            &AuditFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    let times: Vec<i64> = all.iter().map(|e| e.at_ms).collect();
    assert_eq!(times, [4_000, 2_000, 1_000]);
    assert_eq!(all[0].actor, "alice (oidc)");
    assert_eq!(all[0].detail, json!({"state": "pending"}));
    assert_eq!(all[0].origin.as_deref(), Some("127.0.0.1"));

    let retries = log
        .list(
            "shop",
            &AuditFilter {
                action: Some(AuditAction::Retry),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(retries.len(), 2);
    let page = log
        .list(
            "shop",
            &AuditFilter {
                cursor: Some(all[0].id.clone()),
                since_ms: Some(1_500),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(page.iter().map(|e| e.at_ms).collect::<Vec<_>>(), [2_000]);

    assert_eq!(log.purge(2_500).await.expect("purge"), 2);
    let left = log
        .list(
            "shop",
            &AuditFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(left.len(), 1);
}
