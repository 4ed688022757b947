//! `switchyard-bench`: drives the real `runner` binary over loopback and measures webhook
//! intake, end-to-end delivery (webhook → jq map → durable queue → HTTP receiver) and the
//! runner's peak memory, on the SQLite and the PostgreSQL queue.
//!
//! Each scenario gets a fresh runner (fresh data directory, fresh PostgreSQL database),
//! so no scenario inherits another's backlog. Every loop is bounded in count and time.

mod load;
mod manifest;
mod order;
mod postgres;
mod receiver;
mod report;
mod runner;
mod scenario;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::scenario::{Scenario, ScenarioKind};

#[derive(Parser, Debug)]
#[command(
    name = "switchyard-bench",
    about = "Benchmark the runner: webhook intake, end-to-end delivery and peak RSS"
)]
pub struct Args {
    /// Queue backends to measure (repeat or comma-separate).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Backend::Sqlite, Backend::Postgres])]
    backend: Vec<Backend>,

    /// Scenarios to run (repeat or comma-separate).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = ScenarioKind::all())]
    scenario: Vec<ScenarioKind>,

    /// Concurrent HTTP clients, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    clients: usize,

    /// Seconds of load per scenario (unless `--items` is given).
    #[arg(long, default_value_t = 10)]
    duration: u64,

    /// Stop each scenario's load after this many items (shared by the clients) instead of
    /// after `--duration`; the end-to-end scenarios then wait until all are done. A fixed
    /// amount of work, for instruction counts that do not depend on the machine's speed.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    items: Option<u64>,

    /// Open loop: send this many items per second in all (spread evenly over the
    /// clients, each on a fixed schedule) instead of as fast as answers come back.
    /// Latencies then count from when a request was due, so they show queueing at a
    /// given rate, e.g. half the closed-loop maximum.
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,

    /// Seconds at the start of the load left out of the rates and latencies.
    #[arg(long, default_value_t = 1)]
    warmup: u64,

    /// Items per request in the batch scenarios.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,

    /// Longest wait for the queue to drain after the load, in seconds.
    #[arg(long, default_value_t = 300)]
    drain_timeout: u64,

    /// Runners sharing one PostgreSQL queue (repeat or comma-separate to measure each,
    /// e.g. `1,2,3`); the clients are spread over them. More than 1 needs
    /// `--backend postgres`.
    #[arg(long, value_delimiter = ',', default_values_t = [1])]
    runners: Vec<usize>,

    /// Delivery concurrency of the end-to-end route (`spec.processing.maxConcurrency`).
    #[arg(long, default_value_t = 64)]
    max_concurrency: u32,

    /// Send deliveries in batches of up to this many items per request
    /// (`outgoing.http.batch.maxItems`); 0: one request per item.
    #[arg(long, default_value_t = 0)]
    outgoing_batch: u32,

    /// Sets the route's `spec.processing.maxPending` (back-pressure) to this many tasks.
    /// A limit the run never reaches measures what checking it costs. Absent: unset.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_pending: Option<u64>,

    /// PostgreSQL server (a database is created per scenario and dropped after).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,

    /// The runner binary. Default: `runner` next to this executable.
    #[arg(long)]
    runner: Option<PathBuf>,

    /// Also write the markdown table to this file.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// `--rate`: a finite number of items per second above zero.
fn positive_rate(text: &str) -> anyhow::Result<f64> {
    let rate: f64 = text.parse()?;
    anyhow::ensure!(rate.is_finite() && rate > 0.0, "must be a number above 0");
    Ok(rate)
}

/// A queue backend of the runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// `/proc/loadavg`'s first three fields: how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    anyhow::ensure!(
        args.runners.iter().all(|n| *n >= 1),
        "--runners must be at least 1"
    );
    anyhow::ensure!(
        args.runners.iter().all(|n| *n == 1) || args.backend == [Backend::Postgres],
        "--runners above 1 needs --backend postgres (a SQLite queue belongs to one runner)"
    );
    anyhow::ensure!(
        args.items.is_some() || args.duration > args.warmup,
        "--duration must be longer than --warmup"
    );
    let runner_bin = match &args.runner {
        Some(path) => path.clone(),
        None => runner::default_binary()?,
    };
    let load_before = load_average();
    let mut results = Vec::new();
    for &backend in &args.backend {
        for &kind in &args.scenario {
            for &runners in &args.runners {
                let scenario = Scenario {
                    kind,
                    backend,
                    clients: args.clients,
                    batch_size: if kind.is_batch() { args.batch_size } else { 1 },
                    duration: Duration::from_secs(args.duration),
                    warmup: Duration::from_secs(args.warmup),
                    items: args.items,
                    rate: args.rate,
                    drain_timeout: Duration::from_secs(args.drain_timeout),
                    max_concurrency: args.max_concurrency,
                    outgoing_batch: args.outgoing_batch,
                    max_pending: args.max_pending,
                    runners,
                };
                let label = scenario.label();
                eprintln!("== {backend} / {label}");
                let result = scenario::run(&scenario, &runner_bin, &args.postgres_url)
                    .await
                    .with_context(|| format!("{backend} / {label}"))?;
                eprintln!("{}", report::summary_line(&result));
                results.push(result);
            }
        }
    }
    let mut table = report::markdown(&results);
    table.push_str(&format!(
        "\nRoute `processing.maxPending`: {}\n",
        args.max_pending
            .map_or_else(|| "unset".to_owned(), |n| n.to_string())
    ));
    table.push_str(&format!(
        "\nLoad average (1/5/15 min) before: {load_before}, after: {}\n",
        load_average()
    ));
    println!("{table}");
    if let Some(path) = &args.output {
        std::fs::write(path, &table).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
