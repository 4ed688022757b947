//! Several runners on one PostgreSQL queue (replicas of one tenant): who this runner is,
//! how long its poll claims last, and how many runners are alive. Polls are claimed per
//! tick (see [`crate::queue::QueueStore::claim_poll`]); Connection limits are divided by
//! the live count ([`live`]). See `docs/scaling.md`.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::queue::QueueStore;

/// How long a poll claim lasts unless renewed. A runner that dies mid-poll holds the
/// route's polls back at most this long.
pub const CLAIM_LEASE: Duration = Duration::from_secs(15);
/// How often a running poll renews its claim (well inside [`CLAIM_LEASE`]).
pub const CLAIM_RENEW_EVERY: Duration = Duration::from_secs(5);
/// How often a runner records that it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// A runner not heard from for this long no longer counts as live.
pub const HEARTBEAT_TTL: Duration = Duration::from_secs(15);

static LIVE: AtomicU32 = AtomicU32::new(1);
static ID: OnceLock<String> = OnceLock::new();

/// This runner's identity on the queue: the pod's host name (when set) and a UUID
/// drawn at start, so a restarted pod is a new holder.
pub fn id() -> &'static str {
    ID.get_or_init(|| {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        match std::env::var("HOSTNAME") {
            Ok(host) if !host.is_empty() => format!("{host}-{unique}"),
            _ => unique,
        }
    })
}

/// Runners seen alive on this queue recently, this one included (at least 1). On SQLite
/// always 1.
pub fn live() -> u32 {
    LIVE.load(Ordering::Relaxed).max(1)
}

/// Records this runner's heartbeat every [`HEARTBEAT_EVERY`] and keeps [`live`] up to
/// date. A failed heartbeat keeps the last count (the queue's own fault handling
/// reports the database).
pub async fn heartbeat(store: Arc<dyn QueueStore>) {
    let mut ticker = tokio::time::interval(HEARTBEAT_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match store.heartbeat(id(), HEARTBEAT_TTL).await {
            Ok(count) => {
                let before = LIVE.swap(count, Ordering::Relaxed);
                if before != count {
                    tracing::info!(
                        live = count,
                        "Runners on this queue changed; Connection limits are shared among them"
                    );
                }
            }
            Err(error) => {
                tracing::debug!(error = %error, "Recording the runner heartbeat failed")
            }
        }
    }
}
