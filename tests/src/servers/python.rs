//! Test servers written in Python, from PyPI: moto's S3 server, pyftpdlib, aiosmtpd and an
//! OTLP receiver (opentelemetry-proto, grpcio). They are
//! installed once with `pip install --target` into `.tools/python-<PACKAGES_TAG>/`
//! (git-ignored; about 30 s the first time) and run with `python3 -m <module>` on that
//! `PYTHONPATH`, so no virtual environment or root is needed. The first test that
//! needs them installs them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What is installed. Changing it changes [`PACKAGES_TAG`], so a new directory is made.
const PACKAGES: &[&str] = &[
    // moto's server mode needs flask and flask-cors, which `moto[server]` would bring with
    // every other AWS service's dependencies (three times the download).
    "moto[s3]>=5,<6",
    "flask>=3,<4",
    "flask-cors>=5,<7",
    "pyftpdlib>=2,<3",
    // pyftpdlib's TLS_FTPHandler (FTPS).
    "pyopenssl>=24",
    // The SMTP server of the notification tests.
    "aiosmtpd>=1.4,<2",
    // The OTLP receiver of the trace tests (its protobuf messages, and gRPC).
    "opentelemetry-proto>=1.27,<2",
    "grpcio>=1.60,<2",
];
const PACKAGES_TAG: &str = "moto5-pyftpdlib2-pyopenssl-aiosmtpd1-otelproto1-grpcio1-v1";

/// Tests of one binary install one at a time (other binaries run after this one).
static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The directory the packages live in, installing them if needed.
fn packages() -> Result<PathBuf, String> {
    let _one_at_a_time = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools");
    let target = tools.join(format!("python-{PACKAGES_TAG}"));
    if target.join(".complete").exists() {
        return Ok(target);
    }
    std::fs::create_dir_all(&tools).map_err(|e| format!("cannot create {tools:?}: {e}"))?;
    // Installed under a private name and renamed when complete: test binaries running at
    // the same time each install and the first rename wins; a half install never counts.
    let staging = tools.join(format!(
        "python-{PACKAGES_TAG}.{}.partial",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    eprintln!("Installing {PACKAGES:?} from PyPI into {target:?} (once)");
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--target",
        ])
        .arg(&staging)
        .args(PACKAGES)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run python3 -m pip: {e}"))?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(format!(
            "pip install {PACKAGES:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::write(staging.join(".complete"), PACKAGES.join("\n"))
        .map_err(|e| format!("cannot mark {staging:?} complete: {e}"))?;
    if std::fs::rename(&staging, &target).is_err() {
        // Another test won the race; its copy is as good as ours.
        let _ = std::fs::remove_dir_all(&staging);
    }
    if target.join(".complete").exists() {
        Ok(target)
    } else {
        Err(format!("{target:?} is incomplete after installing"))
    }
}

/// A Python server process on a loopback port; killed on drop.
pub struct PythonServer {
    pub port: u16,
    child: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl PythonServer {
    /// Runs `python3 -m <module> <args>` (`{port}` in an argument is replaced by a free
    /// port) with `dir` as its working directory and waits until the port accepts
    /// connections. `None` (skipped, or a failure under CI) if the packages cannot be
    /// installed or the server does not come up.
    pub async fn start(
        what: &str,
        module: &str,
        args: &[&str],
        dir: tempfile::TempDir,
    ) -> Option<Self> {
        let packages = match tokio::task::spawn_blocking(packages).await {
            Ok(Ok(packages)) => packages,
            Ok(Err(message)) => return super::unavailable(format!("{what}: {message}")),
            Err(error) => return super::unavailable(format!("{what}: {error}")),
        };
        let port = crate::free_port();
        let log = dir.path().join(format!("{module}.log"));
        let child = Command::new("python3")
            .arg("-m")
            .arg(module)
            .args(args.iter().map(|a| a.replace("{port}", &port.to_string())))
            .current_dir(dir.path())
            .env("PYTHONPATH", &packages)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(&log)
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) => return super::unavailable(format!("cannot start {what}: {error}")),
        };
        let mut server = Self {
            port,
            child,
            log,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || matches!(server.child.try_wait(), Ok(Some(_))) {
                return super::unavailable(format!(
                    "{what} did not listen on 127.0.0.1:{port}: {}",
                    server.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(server)
    }

    /// What the server wrote to stderr so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
