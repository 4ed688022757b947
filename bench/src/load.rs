//! The senders: `clients` concurrent loops, each with one webhook request in flight,
//! for a fixed time or a fixed number of items. Closed loop by default: a client sends
//! its next request when the previous one was answered, so the rate is what the runner
//! sustains. With a `rate`, open loop: each client sends on a fixed schedule (the
//! clients' schedules interleaved), and a request's latency counts from when it was
//! due, not from when it went out, so a stall is charged to every request it delayed
//! (no coordinated omission).

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
    /// How long the load runs, unless `items` is set.
    pub duration: Duration,
    pub warmup: Duration,
    /// Stop after sending this many items (the clients share the count) instead of
    /// after `duration`: a fixed amount of work, for counts that must not depend on
    /// how fast the machine is.
    pub items: Option<u64>,
    /// Open loop: items per second for all clients together; `None`: closed loop.
    pub rate: Option<f64>,
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
    /// Length of the steady window: from the end of the warm-up until every client stopped.
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
    let stop = match load.items {
        Some(items) => Stop::AfterItems(items),
        None => Stop::At(start + load.duration),
    };
    let mut handles = Vec::with_capacity(load.clients);
    anyhow::ensure!(!load.urls.is_empty(), "no webhook URL to load");
    for index in 0..load.clients {
        let client = client.clone();
        let url = load.urls[index % load.urls.len()].clone();
        let next_id = next_id.clone();
        let items = load.items_per_request;
        let pace = load
            .rate
            .map(|rate| Pace::of_client(rate, items, load.clients, index, start));
        handles.push(tokio::spawn(async move {
            client_loop(client, url, next_id, items, steady_from, stop, pace).await
        }));
    }
    let mut result = LoadResult {
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
    result.steady = Instant::now().saturating_duration_since(steady_from);
    Ok(result)
}

/// When the clients stop sending.
#[derive(Clone, Copy)]
enum Stop {
    /// At this instant.
    At(Instant),
    /// Once this many items were sent, by all clients together.
    AfterItems(u64),
}

impl Stop {
    /// Items for the next request of `per_request`, whose first id is `first_id` (ids
    /// count from 1); `None`: stop.
    fn next_count(self, first_id: u64, per_request: usize, now: Instant) -> Option<usize> {
        match self {
            Stop::At(end) => (now < end).then_some(per_request),
            Stop::AfterItems(limit) => {
                let left = limit.saturating_sub(first_id.saturating_sub(1));
                (left > 0).then(|| per_request.min(usize::try_from(left).unwrap_or(usize::MAX)))
            }
        }
    }

    /// Whether a request answered at `finished` belongs to the steady window.
    fn in_window(self, finished: Instant, steady_from: Instant) -> bool {
        match self {
            Stop::At(end) => finished >= steady_from && finished <= end,
            Stop::AfterItems(_) => finished >= steady_from,
        }
    }
}

/// One client's schedule in an open-loop load.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Pace {
    /// When its first request is due.
    first: Instant,
    /// Between two of its requests.
    every: Duration,
}

impl Pace {
    /// Client `index` of `clients` sharing `rate` items/s, `per_request` items each:
    /// every client sends every `clients × per_request / rate` seconds, client `i`
    /// offset by `i / clients` of that, so requests leave evenly spread.
    fn of_client(
        rate: f64,
        per_request: usize,
        clients: usize,
        index: usize,
        start: Instant,
    ) -> Self {
        let every = Duration::from_secs_f64(clients as f64 * per_request as f64 / rate);
        Self {
            first: start + every.mul_f64(index as f64 / clients as f64),
            every,
        }
    }

    /// When request `n` (from 0) is due.
    fn due(self, n: u32) -> Instant {
        self.first + self.every * n
    }
}

async fn client_loop(
    client: reqwest::Client,
    url: String,
    next_id: Arc<AtomicU64>,
    items: usize,
    steady_from: Instant,
    stop: Stop,
    pace: Option<Pace>,
) -> anyhow::Result<ClientResult> {
    let mut result = ClientResult {
        requests: 0,
        errors: 0,
        first_error: None,
        accepted: 0,
        steady_accepted: 0,
        latency_us: latency_histogram()?,
    };
    let mut sent: u32 = 0;
    loop {
        // Open loop: wait until this request is due (a late one goes at once), and
        // count its latency from then.
        let due = pace.map(|pace| pace.due(sent));
        if let Some(due) = due {
            tokio::time::sleep_until(due.into()).await;
        }
        sent = sent.saturating_add(1);
        let first_id = next_id.fetch_add(items as u64, Ordering::Relaxed);
        let Some(count) = stop.next_count(first_id, items, Instant::now()) else {
            break;
        };
        let body = order::body(first_id, count, order::now_ns());
        let started = due.unwrap_or_else(Instant::now);
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
                if stop.in_window(finished, steady_from) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_item_count_is_split_into_requests_and_then_stops() {
        let now = Instant::now();
        let stop = Stop::AfterItems(250);
        assert_eq!(stop.next_count(1, 100, now), Some(100));
        assert_eq!(stop.next_count(201, 100, now), Some(50));
        assert_eq!(stop.next_count(251, 100, now), None);
        assert_eq!(Stop::AfterItems(3).next_count(3, 1, now), Some(1));
        assert_eq!(Stop::AfterItems(3).next_count(4, 1, now), None);
    }

    #[test]
    fn an_open_loop_spreads_the_clients_requests_evenly() {
        let start = Instant::now();
        // 1,000 items/s over 4 clients, 1 item per request: each client every 4 ms,
        // client 1 one millisecond after client 0.
        let first = Pace::of_client(1000.0, 1, 4, 0, start);
        let second = Pace::of_client(1000.0, 1, 4, 1, start);
        assert_eq!(first.every, Duration::from_millis(4));
        assert_eq!(first.due(0), start);
        assert_eq!(second.due(0), start + Duration::from_millis(1));
        assert_eq!(second.due(2), start + Duration::from_millis(9));
        // 100 items per request: ten times fewer requests.
        assert_eq!(
            Pace::of_client(1000.0, 100, 4, 0, start).every,
            Duration::from_millis(400)
        );
    }

    #[test]
    fn a_time_limit_stops_at_its_instant() {
        let now = Instant::now();
        let stop = Stop::At(now + Duration::from_secs(1));
        assert_eq!(stop.next_count(1_000_000, 7, now), Some(7));
        assert_eq!(stop.next_count(1, 7, now + Duration::from_secs(2)), None);
    }
}
