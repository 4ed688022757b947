//! The senders: `clients` concurrent loops, each with one webhook request in flight,
//! for a fixed time. Closed loop: a client sends its next request when the previous one
//! was answered, so the rate is what the runner sustains.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::order;
use crate::receiver::latency_histogram;

/// Longest wait for one webhook answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed request, so a failing runner is not hammered in a tight loop.
const ERROR_PAUSE: Duration = Duration::from_millis(50);

pub struct Load {
    /// Webhook URLs (one per runner); client `i` sends to `urls[i % len]`.
    pub urls: Vec<String>,
    pub clients: usize,
    pub items_per_request: usize,
    pub duration: Duration,
    pub warmup: Duration,
}

#[derive(Default)]
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Items the runner acknowledged (task ids in 202 answers), warm-up included.
    pub accepted: u64,
    /// Items acknowledged by requests that completed inside the steady window.
    pub steady_accepted: u64,
    /// Length of the steady window: from the end of the warm-up to the end of the load.
    pub steady: Duration,
    /// Request latency in microseconds, of requests started after the warm-up.
    pub latency_us: Option<Histogram<u64>>,
}

struct ClientResult {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    accepted: u64,
    steady_accepted: u64,
    latency_us: Histogram<u64>,
}

/// Runs the load and returns when every client has stopped.
pub async fn run(load: &Load) -> anyhow::Result<LoadResult> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(load.clients)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("building the HTTP client")?;
    let next_id = Arc::new(AtomicU64::new(1));
    let start = Instant::now();
    let steady_from = start + load.warmup;
    let end = start + load.duration;
    let mut handles = Vec::with_capacity(load.clients);
    anyhow::ensure!(!load.urls.is_empty(), "no webhook URL to load");
    for index in 0..load.clients {
        let client = client.clone();
        let url = load.urls[index % load.urls.len()].clone();
        let next_id = next_id.clone();
        let items = load.items_per_request;
        handles.push(tokio::spawn(async move {
            client_loop(client, url, next_id, items, steady_from, end).await
        }));
    }
    let mut result = LoadResult {
        steady: end.saturating_duration_since(steady_from),
        latency_us: Some(latency_histogram()?),
        ..LoadResult::default()
    };
    for handle in handles {
        let client = handle.await.context("a client task panicked")??;
        result.requests += client.requests;
        result.errors += client.errors;
        result.accepted += client.accepted;
        result.steady_accepted += client.steady_accepted;
        if result.first_error.is_none() {
            result.first_error = client.first_error;
        }
        if let Some(total) = result.latency_us.as_mut() {
            total
                .add(&client.latency_us)
                .context("merging latency histograms")?;
        }
    }
    Ok(result)
}

async fn client_loop(
    client: reqwest::Client,
    url: String,
    next_id: Arc<AtomicU64>,
    items: usize,
    steady_from: Instant,
    end: Instant,
) -> anyhow::Result<ClientResult> {
    let mut result = ClientResult {
        requests: 0,
        errors: 0,
        first_error: None,
        accepted: 0,
        steady_accepted: 0,
        latency_us: latency_histogram()?,
    };
    while Instant::now() < end {
        let first_id = next_id.fetch_add(items as u64, Ordering::Relaxed);
        let body = order::body(first_id, items, order::now_ns());
        let started = Instant::now();
        let outcome = send(&client, &url, body).await;
        let finished = Instant::now();
        result.requests += 1;
        match outcome {
            Ok(accepted) => {
                result.accepted += accepted;
                if started >= steady_from {
                    let micros = u64::try_from(finished.duration_since(started).as_micros())
                        .unwrap_or(u64::MAX);
                    result.latency_us.saturating_record(micros);
                }
                if finished >= steady_from && finished <= end {
                    result.steady_accepted += accepted;
                }
            }
            Err(error) => {
                result.errors += 1;
                result.first_error.get_or_insert(error);
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
    Ok(result)
}

/// One webhook request; the number of tasks the runner acknowledged.
async fn send(client: &reqwest::Client, url: &str, body: String) -> Result<u64, String> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?;
    if status != reqwest::StatusCode::ACCEPTED {
        return Err(format!(
            "HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    let answer: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("answer is not JSON: {e}"))?;
    answer
        .get("taskIds")
        .and_then(|ids| ids.as_array())
        .map(|ids| ids.len() as u64)
        .ok_or_else(|| format!("answer without taskIds: {text}"))
}
