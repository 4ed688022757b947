//! The runner as a child process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// How to start a runner.
#[derive(Debug, Clone, Default)]
pub struct RunnerOptions {
    pub queue_url: Option<String>,
    pub secrets_dir: Option<PathBuf>,
    pub lease_seconds: Option<u64>,
    pub env: Vec<(String, String)>,
    /// More arguments for `runner run` (`--vars-file`, …).
    pub args: Vec<String>,
    /// Where the runner's log goes (default: its data directory). Tests that fill the
    /// data directory's file system keep the log elsewhere.
    pub log_dir: Option<PathBuf>,
    /// Write stderr to a pipe (copied into the log file) and leave `NO_COLOR` unset, as a
    /// log shipper reading a container's output would: colour must stay off on its own.
    pub stderr_pipe: bool,
}

/// An API tokens file (`SWITCHYARD_API_TOKENS_FILE`) in a directory of its own, kept
/// as long as this value.
pub struct ApiTokens {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl ApiTokens {
    /// A file with one token per `(name, role, token)`.
    pub fn write(tokens: &[(&str, &str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a directory for the tokens file");
        let path = dir.path().join("tokens.yaml");
        let text: String = tokens
            .iter()
            .map(|(name, role, token)| {
                format!("- {{name: {name}, role: {role}, token: {token}}}\n")
            })
            .collect();
        std::fs::write(&path, text).expect("tokens file");
        Self { _dir: dir, path }
    }

    /// The runner's environment entry that names the file (for [`RunnerOptions::env`]).
    pub fn env(&self) -> (String, String) {
        (
            "SWITCHYARD_API_TOKENS_FILE".into(),
            self.path.display().to_string(),
        )
    }
}

pub struct Runner {
    pub port: u16,
    child: Option<Child>,
    /// Copies a piped stderr into the log file until the runner exits.
    stderr_copy: Option<std::thread::JoinHandle<()>>,
    pub log_path: PathBuf,
    pub client: reqwest::Client,
    _data: Option<tempfile::TempDir>,
    pub data_dir: PathBuf,
}

impl Runner {
    /// Starts a runner on a free port with a fresh data directory and waits for
    /// `/readyz`.
    pub async fn start(bin: &Path, manifests: &Path, options: &RunnerOptions) -> Self {
        let data = tempfile::tempdir().expect("data dir");
        let data_dir = data.path().to_owned();
        let mut runner = Self::spawn(bin, manifests, &data_dir, options);
        runner._data = Some(data);
        runner.wait_ready().await;
        runner
    }

    /// Starts a runner on an existing data directory (a restart) and waits for `/readyz`.
    pub async fn restart(
        bin: &Path,
        manifests: &Path,
        data_dir: &Path,
        options: &RunnerOptions,
    ) -> Self {
        let runner = Self::spawn(bin, manifests, data_dir, options);
        runner.wait_ready().await;
        runner
    }

    fn spawn(bin: &Path, manifests: &Path, data_dir: &Path, options: &RunnerOptions) -> Self {
        let port = crate::free_port();
        let log_path = options
            .log_dir
            .as_deref()
            .unwrap_or(data_dir)
            .join(format!("runner-{port}.log"));
        let log = std::fs::File::create(&log_path).expect("runner log file");
        let mut command = Command::new(bin);
        command
            .arg("run")
            .arg("-f")
            .arg(manifests)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "info,sqlx=warn")
            .env_remove("NO_COLOR")
            .stdout(Stdio::null());
        if options.stderr_pipe {
            command.stderr(Stdio::piped());
        } else {
            command
                .env("NO_COLOR", "1")
                .stderr(log.try_clone().expect("log file"));
        }
        if let Some(url) = &options.queue_url {
            command.arg("--queue-url").arg(url);
        }
        if let Some(dir) = &options.secrets_dir {
            command.arg("--secrets-dir").arg(dir);
        }
        if let Some(seconds) = options.lease_seconds {
            command.arg("--lease-seconds").arg(seconds.to_string());
        }
        for (key, value) in &options.env {
            command.env(key, value);
        }
        command.args(&options.args);
        let mut child = command.spawn().expect("spawn runner");
        let stderr_copy = child.stderr.take().map(|mut stderr| {
            let mut log = log;
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut stderr, &mut log);
            })
        });
        Self {
            port,
            child: Some(child),
            stderr_copy,
            log_path,
            client: reqwest::Client::new(),
            _data: None,
            data_dir: data_dir.to_owned(),
        }
    }

    async fn wait_ready(&self) {
        let url = self.url("/readyz");
        let client = self.client.clone();
        let log = self.log_path.clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "runner not ready after 30 s; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The runner's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the runner logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON answer")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The sum of metric `name` over the series whose labels include every one of
    /// `labels` (`0` when there is none).
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        self.metrics()
            .await
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
                (metric == name && wanted.iter().all(|w| rest.contains(w.as_str())))
                    .then(|| value.parse::<f64>().ok())
                    .flatten()
            })
            .sum()
    }

    /// Task counts of a route in `default`.
    pub async fn counts(&self, route: &str) -> Value {
        let routes = self.get_json("/api/v1/namespaces/default/routes").await;
        routes
            .as_array()
            .and_then(|routes| routes.iter().find(|r| r["name"] == route))
            .map(|r| r["tasks"].clone())
            .unwrap_or(Value::Null)
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.join_stderr_copy();
    }

    /// Waits until a piped stderr is all in the log file (the runner has exited).
    fn join_stderr_copy(&mut self) {
        if let Some(copy) = self.stderr_copy.take() {
            let _ = copy.join();
        }
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let status = child.wait().ok();
        self.join_stderr_copy();
        status
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.kill();
    }
}
