//! One measurement: a fresh runner and receiver, the load, the drain, the numbers.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::ValueEnum;

use crate::Backend;
use crate::load::{self, Load};
use crate::manifest::{self, Delivery};
use crate::order::now_ns;
use crate::postgres::TempDatabase;
use crate::receiver::{Deliveries, Receiver};
use crate::runner::{self, Launch, Runner, TaskCounts};

/// How often the drain wait looks at the receiver, and at the runner API once the
/// receiver has everything.
const RECEIVER_POLL: Duration = Duration::from_millis(20);
const API_POLL: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScenarioKind {
    /// One item per request; delivery deferred (scheduled route), intake alone.
    Intake,
    /// `--batch-size` items per request; delivery deferred.
    IntakeBatch,
    /// One item per request; webhook → jq map → queue → HTTP receiver, drained.
    E2e,
    /// `--batch-size` items per request, end to end, drained.
    E2eBatch,
}

impl ScenarioKind {
    pub fn all() -> Vec<Self> {
        vec![Self::Intake, Self::IntakeBatch, Self::E2e, Self::E2eBatch]
    }

    pub fn is_batch(self) -> bool {
        matches!(self, Self::IntakeBatch | Self::E2eBatch)
    }

    pub fn is_end_to_end(self) -> bool {
        matches!(self, Self::E2e | Self::E2eBatch)
    }

    pub fn label(self, batch_size: usize) -> String {
        let what = if self.is_end_to_end() {
            "end to end"
        } else {
            "intake"
        };
        if batch_size == 1 {
            format!("{what}, 1 item/request")
        } else {
            format!("{what}, {batch_size} items/request")
        }
    }
}

pub struct Scenario {
    pub kind: ScenarioKind,
    pub backend: Backend,
    pub clients: usize,
    pub batch_size: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// A fixed number of items instead of `duration`.
    pub items: Option<u64>,
    /// Open-loop load at this many items/s; `None`: closed loop.
    pub rate: Option<f64>,
    pub drain_timeout: Duration,
    pub max_concurrency: u32,
    /// Items per outgoing request (`outgoing.http.batch.maxItems`); 0: one per item.
    pub outgoing_batch: u32,
    /// The route's `processing.maxPending`; `None`: unset.
    pub max_pending: Option<u64>,
    /// Runners on the one queue.
    pub runners: usize,
}

impl Scenario {
    pub fn label(&self) -> String {
        label(self.kind, self.batch_size, self.runners)
    }
}

/// A scenario's name in the report, with the runner count when several share the queue.
pub fn label(kind: ScenarioKind, batch_size: usize, runners: usize) -> String {
    match runners {
        1 => kind.label(batch_size),
        n => format!("{}, {n} runners", kind.label(batch_size)),
    }
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug)]
pub struct Delivered {
    /// First deliveries per second during the steady window of the load (from the end
    /// of the warm-up until the last client stopped).
    pub steady_rate: f64,
    /// All accepted items over load + drain time.
    pub overall_rate: f64,
    /// Client send → receiver arrival.
    pub latency: Latency,
    /// From the end of the load until every task was `done`.
    pub drain: Duration,
    pub duplicates: u64,
}

#[derive(Debug)]
pub struct ScenarioResult {
    pub backend: Backend,
    pub kind: ScenarioKind,
    pub clients: usize,
    pub batch_size: usize,
    pub runners: usize,
    pub requests: u64,
    pub errors: u64,
    pub accepted: u64,
    /// Items acknowledged per second during the steady window.
    pub intake_rate: f64,
    pub request_latency: Latency,
    pub delivered: Option<Delivered>,
    /// Runner CPU time (all runners) over wall time, from the start of the load to the end of the drain.
    pub runner_cores: f64,
    /// The same for this process (clients and receiver), which shares the machine.
    pub bench_cores: f64,
    /// The largest runner's.
    pub peak_rss_mib: f64,
    /// Anything that did not add up (errors, lost or unexpected tasks).
    pub problems: Vec<String>,
}

/// Runs one scenario from a clean slate and always stops what it started.
pub async fn run(
    scenario: &Scenario,
    runner_bin: &Path,
    postgres_url: &str,
) -> anyhow::Result<ScenarioResult> {
    let dir = tempfile::Builder::new()
        .prefix("switchyard-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let manifests = dir.path().join("manifests");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&manifests)?;
    std::fs::create_dir_all(&data)?;
    let receiver = Receiver::start().await?;
    let delivery = if scenario.kind.is_end_to_end() {
        Delivery::Realtime
    } else {
        Delivery::Deferred
    };
    manifest::write(
        &manifests,
        receiver.addr.port(),
        delivery,
        scenario.max_concurrency,
        scenario.outgoing_batch,
        scenario.max_pending,
    )?;
    let database = match scenario.backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(TempDatabase::create(postgres_url).await?),
    };
    let mut runners = Vec::with_capacity(scenario.runners);
    let mut started = Ok(());
    for index in 0..scenario.runners {
        let data = data.join(index.to_string());
        let log = dir.path().join(format!("runner-{index}.log"));
        std::fs::create_dir_all(&data)?;
        match Runner::start(&Launch {
            binary: runner_bin,
            manifests: &manifests,
            data_dir: &data,
            queue_url: database.as_ref().map(|db| db.url.as_str()),
            log: &log,
        })
        .await
        {
            Ok(runner) => runners.push(runner),
            Err(error) => {
                started = Err(error);
                break;
            }
        }
    }
    let outcome = match started {
        Ok(()) => measure(scenario, &runners, &receiver)
            .await
            .with_context(|| format!("first runner's log:\n{}", runners[0].log_tail())),
        Err(error) => Err(error),
    };
    for runner in runners {
        runner.kill().await?;
    }
    if let Some(database) = database {
        database.drop_database().await?;
    }
    outcome
}

async fn measure(
    scenario: &Scenario,
    runners: &[Runner],
    receiver: &Receiver,
) -> anyhow::Result<ScenarioResult> {
    // Every runner sees the same queue, so one answers for the counts.
    let runner = runners.first().context("no runner started")?;
    let deliveries = receiver.deliveries.clone();
    let cpu_before = cpu_time(runners)?;
    let bench_cpu_before = runner::cpu_time("/proc/self/stat")?;
    let wall_start = Instant::now();
    let warmup_ns = u64::try_from(scenario.warmup.as_nanos()).unwrap_or(u64::MAX);
    deliveries
        .record_from_ns
        .store(now_ns().saturating_add(warmup_ns), Ordering::Relaxed);
    let load = Load {
        urls: runners.iter().map(Runner::webhook_url).collect(),
        clients: scenario.clients,
        items_per_request: scenario.batch_size,
        duration: scenario.duration,
        warmup: scenario.warmup,
        items: scenario.items,
        rate: scenario.rate,
    };
    let window_start = tokio::spawn(delivered_after(deliveries.clone(), scenario.warmup));
    let load = load::run(&load).await;
    let load_end = Instant::now();
    let delivered_at_end = deliveries.unique.load(Ordering::Relaxed);
    window_start.abort();
    // A load shorter than its warm-up has no steady window.
    let window = window_start
        .await
        .map_or(0, |at_start| delivered_at_end.saturating_sub(at_start));
    let load = load?;
    let mut problems = Vec::new();
    if load.errors > 0 {
        problems.push(format!(
            "{} of {} requests failed, first: {}",
            load.errors,
            load.requests,
            load.first_error.as_deref().unwrap_or("?")
        ));
    }
    let delivered = if scenario.kind.is_end_to_end() {
        let drain = drain(runner, &deliveries, load.accepted, scenario.drain_timeout).await?;
        let counts = drain.counts;
        if counts.done != load.accepted || counts.open() > 0 {
            problems.push(format!(
                "accepted {} items but the queue holds {counts:?} after the drain",
                load.accepted
            ));
        }
        let unique = deliveries.unique.load(Ordering::Relaxed);
        if unique != load.accepted {
            problems.push(format!(
                "accepted {} items, the receiver saw {unique} distinct ones",
                load.accepted
            ));
        }
        let malformed = deliveries.malformed.load(Ordering::Relaxed);
        if malformed > 0 {
            problems.push(format!("{malformed} deliveries without key or sentAtNs"));
        }
        let total = load_end.duration_since(wall_start) + drain.elapsed;
        let latency = deliveries
            .latency_us
            .lock()
            .map(|h| percentiles(&h))
            .unwrap_or_default();
        Some(Delivered {
            steady_rate: per_second(window, load.steady),
            overall_rate: per_second(load.accepted, total),
            latency,
            drain: drain.elapsed,
            duplicates: deliveries.duplicates.load(Ordering::Relaxed),
        })
    } else {
        let counts = runner.counts().await?;
        if counts.pending != load.accepted || counts.finished() > 0 {
            problems.push(format!(
                "accepted {} items but the queue holds {counts:?}",
                load.accepted
            ));
        }
        None
    };
    let wall = wall_start.elapsed();
    let cpu = cpu_time(runners)?.saturating_sub(cpu_before);
    let bench_cpu = runner::cpu_time("/proc/self/stat")?.saturating_sub(bench_cpu_before);
    let cores = |cpu: Duration| cpu.as_secs_f64() / wall.as_secs_f64().max(f64::EPSILON);
    Ok(ScenarioResult {
        backend: scenario.backend,
        kind: scenario.kind,
        clients: scenario.clients,
        batch_size: scenario.batch_size,
        runners: scenario.runners,
        requests: load.requests,
        errors: load.errors,
        accepted: load.accepted,
        intake_rate: per_second(load.steady_accepted, load.steady),
        request_latency: load
            .latency_us
            .as_ref()
            .map(percentiles)
            .unwrap_or_default(),
        delivered,
        runner_cores: cores(cpu),
        bench_cores: cores(bench_cpu),
        peak_rss_mib: peak_rss_kib(runners)? as f64 / 1024.0,
        problems,
    })
}

/// CPU time of every runner together.
fn cpu_time(runners: &[Runner]) -> anyhow::Result<Duration> {
    runners.iter().map(Runner::cpu_time).sum()
}

/// The largest peak RSS among the runners.
fn peak_rss_kib(runners: &[Runner]) -> anyhow::Result<u64> {
    runners
        .iter()
        .map(Runner::peak_rss_kib)
        .try_fold(0, |max, rss| rss.map(|rss| max.max(rss)))
}

/// First deliveries so far, once the warm-up is over: the start of the steady window.
async fn delivered_after(deliveries: Arc<Deliveries>, warmup: Duration) -> u64 {
    tokio::time::sleep(warmup).await;
    deliveries.unique.load(Ordering::Relaxed)
}

struct Drained {
    elapsed: Duration,
    counts: TaskCounts,
}

/// Waits until the receiver has every accepted item and the runner reports every task
/// finished; bounded by `timeout`.
async fn drain(
    runner: &Runner,
    deliveries: &Deliveries,
    accepted: u64,
    timeout: Duration,
) -> anyhow::Result<Drained> {
    let start = Instant::now();
    let deadline = start + timeout;
    while deliveries.unique.load(Ordering::Relaxed) < accepted && Instant::now() < deadline {
        tokio::time::sleep(RECEIVER_POLL).await;
    }
    loop {
        let counts = runner.counts().await?;
        if (counts.open() == 0 && counts.finished() >= accepted) || Instant::now() >= deadline {
            return Ok(Drained {
                elapsed: start.elapsed(),
                counts,
            });
        }
        tokio::time::sleep(API_POLL).await;
    }
}

fn percentiles(histogram: &hdrhistogram::Histogram<u64>) -> Latency {
    if histogram.is_empty() {
        return Latency::default();
    }
    Latency {
        p50_ms: histogram.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: histogram.value_at_quantile(0.99) as f64 / 1000.0,
    }
}

fn per_second(count: u64, over: Duration) -> f64 {
    count as f64 / over.as_secs_f64().max(f64::EPSILON)
}
