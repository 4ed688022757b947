//! The runner under test: a child process on loopback, its readiness, its queue counts,
//! and its CPU time and peak memory from `/proc`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::manifest::{NAMESPACE, ROUTE};

/// Longest wait for `/readyz` after start.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(50);
/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// `runner` next to this executable, as `cargo build --release` places both.
pub fn default_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let dir = exe
        .parent()
        .context("this executable has no parent directory")?;
    let runner = dir.join(format!("runner{}", std::env::consts::EXE_SUFFIX));
    if !runner.is_file() {
        bail!(
            "no runner binary at {}; build both with `cargo build --release -p switchyard-runner -p switchyard-bench` (or pass --runner <path>)",
            runner.display()
        );
    }
    Ok(runner)
}

/// Tasks of the route per state, as the runner API reports them.
#[derive(Debug, Default, Clone, Copy)]
pub struct TaskCounts {
    pub pending: u64,
    pub processing: u64,
    pub done: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl TaskCounts {
    pub fn open(&self) -> u64 {
        self.pending + self.processing
    }
    pub fn finished(&self) -> u64 {
        self.done + self.failed + self.skipped
    }
}

pub struct Runner {
    child: Child,
    pid: u32,
    pub base_url: String,
    log: PathBuf,
    http: reqwest::Client,
}

pub struct Launch<'a> {
    pub binary: &'a Path,
    pub manifests: &'a Path,
    pub data_dir: &'a Path,
    pub queue_url: Option<&'a str>,
    pub log: &'a Path,
}

impl Runner {
    /// Starts the runner on a free loopback port and waits until it is ready.
    pub async fn start(launch: &Launch<'_>) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = std::fs::File::create(launch.log)
            .with_context(|| format!("creating {}", launch.log.display()))?;
        let mut command = Command::new(launch.binary);
        command
            .arg("run")
            .arg("-f")
            .arg(launch.manifests)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(launch.data_dir)
            .arg("--no-watch")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if let Some(url) = launch.queue_url {
            command.arg("--queue-url").arg(url);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", launch.binary.display()))?;
        let pid = child.id().context("the runner exited at once")?;
        let mut runner = Self {
            child,
            pid,
            base_url: format!("http://127.0.0.1:{port}"),
            log: launch.log.to_path_buf(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        };
        runner.wait_ready().await?;
        Ok(runner)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{}/readyz", self.base_url);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the runner exited ({status}) before it was ready:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(response) = self.http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(READY_POLL).await;
        }
        bail!(
            "the runner was not ready after {READY_TIMEOUT:?}:\n{}",
            self.log_tail()
        )
    }

    pub fn webhook_url(&self) -> String {
        format!("{}/webhooks/{NAMESPACE}/{ROUTE}", self.base_url)
    }

    /// The route's task counts from `GET /api/v1/namespaces/default/routes`.
    pub async fn counts(&self) -> anyhow::Result<TaskCounts> {
        let url = format!("{}/api/v1/namespaces/{NAMESPACE}/routes", self.base_url);
        let routes: serde_json::Value = self
            .http
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let tasks = routes
            .as_array()
            .and_then(|routes| routes.iter().find(|r| r["name"] == ROUTE))
            .map(|route| &route["tasks"])
            .with_context(|| format!("route `{ROUTE}` missing from {routes}"))?;
        let count = |state: &str| tasks[state].as_u64().unwrap_or(0);
        Ok(TaskCounts {
            pending: count("pending"),
            processing: count("processing"),
            done: count("done"),
            failed: count("failed"),
            skipped: count("skipped"),
        })
    }

    /// Peak resident set size (`VmHWM`) in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("reading the runner's /proc status")?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/<pid>/status")
    }

    /// User + system CPU time the runner has used so far.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        cpu_time(&format!("/proc/{}/stat", self.pid))
    }

    /// Kills the runner (SIGKILL) and reaps it.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("killing the runner")
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// User + system CPU time of a process, from its `/proc/<pid>/stat` (or `/proc/self/stat`).
pub fn cpu_time(stat_path: &str) -> anyhow::Result<Duration> {
    let stat =
        std::fs::read_to_string(stat_path).with_context(|| format!("reading {stat_path}"))?;
    // Fields after the command name, which is in parentheses and may contain spaces;
    // utime and stime are fields 14 and 15 of the line, 12th and 13th after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        let field = fields
            .get(i)
            .with_context(|| format!("short {stat_path}"))?;
        Ok(field.parse::<u64>()? as f64)
    };
    Ok(Duration::from_secs_f64((ticks(11)? + ticks(12)?) / USER_HZ))
}

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
