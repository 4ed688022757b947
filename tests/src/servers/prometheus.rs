//! A real Prometheus (Debian's `prometheus` package, which also brings `promtool`) on a
//! loopback port, with its configuration and data in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::unavailable;

/// `name` on the PATH or in /usr/bin, or `None` after printing why (under `CI=true`:
/// panics). `scripts/test.sh` installs the package.
pub fn binary(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    found.or_else(|| {
        unavailable(format!(
            "{name} is not installed (Debian package `prometheus`; scripts/test.sh installs it)"
        ))
    })
}

/// Scraping and rule evaluation every second.
pub struct Prometheus {
    pub url: String,
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus with `rules` (a rule file's YAML) scraping each `(job,
    /// [host:port…])` every second; waits until it is ready.
    pub async fn start(rules: &str, jobs: &[(&str, Vec<String>)]) -> Option<Self> {
        let binary = binary("prometheus")?;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("rules.yaml"), rules).expect("write rules");
        let scrape_configs: Vec<Value> = jobs
            .iter()
            .map(|(job, targets)| {
                serde_json::json!({
                    "job_name": job,
                    "scrape_interval": "1s",
                    "scrape_timeout": "900ms",
                    "static_configs": [{"targets": targets}],
                })
            })
            .collect();
        let config = serde_json::json!({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [dir.path().join("rules.yaml")],
            "scrape_configs": scrape_configs,
        });
        let config_path = dir.path().join("prometheus.yml");
        // JSON is YAML.
        std::fs::write(&config_path, config.to_string()).expect("write config");
        let port = crate::free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        };
        let client = reqwest::Client::new();
        let ready = format!("{}/-/ready", prometheus.url);
        crate::eventually(Duration::from_secs(60), "Prometheus ready", || async {
            let answer = client.get(&ready).send().await.ok()?;
            answer.status().is_success().then_some(())
        })
        .await;
        Some(prometheus)
    }

    /// `GET /api/v1/<path>`'s `data`.
    pub async fn api(&self, path: &str) -> Value {
        let answer: Value = reqwest::get(format!("{}/api/v1/{path}", self.url))
            .await
            .expect("Prometheus answers")
            .json()
            .await
            .expect("Prometheus answers JSON");
        assert_eq!(answer["status"], "success", "{answer}");
        answer["data"].clone()
    }

    /// Labels of the alerts firing now.
    pub async fn firing(&self) -> Vec<Value> {
        self.api("alerts").await["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|alert| alert["state"] == "firing")
            .map(|alert| alert["labels"].clone())
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
