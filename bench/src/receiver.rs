//! The outgoing system: an in-process axum server on loopback that accepts deliveries,
//! de-duplicates them by `Idempotency-Key` and records intake → delivery latency.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hdrhistogram::Histogram;
use tokio::task::JoinHandle;

use crate::order::now_ns;

/// What the receiver saw.
pub struct Deliveries {
    /// Distinct task ids delivered.
    pub unique: AtomicU64,
    /// Deliveries of a task id seen before (at-least-once redeliveries).
    pub duplicates: AtomicU64,
    /// Deliveries without an idempotency key or a readable `sentAtNs`.
    pub malformed: AtomicU64,
    /// Items sent before this instant (ns since epoch) are warm-up: not in the latency.
    pub record_from_ns: AtomicU64,
    /// Send → receive latency in microseconds, of first deliveries after warm-up.
    pub latency_us: Mutex<Histogram<u64>>,
    seen: Mutex<HashSet<String>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub deliveries: Arc<Deliveries>,
    server: JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let deliveries = Arc::new(Deliveries {
            unique: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            record_from_ns: AtomicU64::new(u64::MAX),
            latency_us: Mutex::new(latency_histogram()?),
            seen: Mutex::new(HashSet::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the receiver on loopback")?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/items", post(receive))
            .with_state(deliveries.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("receiver stopped: {error}");
            }
        });
        Ok(Self {
            addr,
            deliveries,
            server,
        })
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Microseconds from 1 µs to one hour, three significant digits.
pub fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).context("creating a latency histogram")
}

async fn receive(
    State(deliveries): State<Arc<Deliveries>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let received = now_ns();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match serde_json::from_slice::<serde_json::Value>(&body) {
        // A batch (`outgoing.http.batch`): one key for the request, so items are told
        // apart by their order id.
        Ok(serde_json::Value::Array(items)) => {
            for item in &items {
                let key = item.get("orderId").map(|id| format!("order-{id}"));
                record(&deliveries, key, sent_at_ns(item), received);
            }
        }
        Ok(item) => record(&deliveries, key, sent_at_ns(&item), received),
        Err(_) => record(&deliveries, key, None, received),
    }
    StatusCode::OK
}

/// Counts one delivered item: first or repeated, and its latency.
fn record(deliveries: &Deliveries, key: Option<String>, sent: Option<u64>, received: u64) {
    let (Some(key), Some(sent)) = (key, sent) else {
        deliveries.malformed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let first = deliveries
        .seen
        .lock()
        .map(|mut seen| seen.insert(key))
        .unwrap_or(false);
    if !first {
        deliveries.duplicates.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if sent >= deliveries.record_from_ns.load(Ordering::Relaxed)
        && let Ok(mut histogram) = deliveries.latency_us.lock()
    {
        histogram.saturating_record(received.saturating_sub(sent) / 1_000);
    }
    deliveries.unique.fetch_add(1, Ordering::Relaxed);
}

/// `sentAtNs` as an integer, or as a float if the jq map turned it into one.
fn sent_at_ns(item: &serde_json::Value) -> Option<u64> {
    let value = item.get("sentAtNs")?;
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_send_time_as_integer_or_float() {
        let int = serde_json::json!({"sentAtNs": 1_764_000_000_000_000_000_u64});
        let float = serde_json::json!({"sentAtNs": 1.5e18});
        assert_eq!(sent_at_ns(&int), Some(1_764_000_000_000_000_000));
        assert_eq!(sent_at_ns(&float), Some(1_500_000_000_000_000_000));
        assert_eq!(sent_at_ns(&serde_json::json!({})), None);
    }
}
