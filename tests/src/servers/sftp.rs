//! Debian's OpenSSH `sshd` on a loopback port with a throw-away host key and a client
//! key authorised for the current user, serving SFTP (`internal-sftp`) chrooted to
//! nothing: paths are absolute on this machine, so tests use a temporary root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

pub struct SftpServer {
    pub port: u16,
    pub user: String,
    /// The client's private key (OpenSSH format), for the Connection's Secret.
    pub private_key: String,
    /// The directory Connections use as `root`; files dropped here are served.
    pub root: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

fn keygen(path: &Path) -> bool {
    Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl SftpServer {
    pub async fn start() -> Option<Self> {
        if !Path::new(SSHD).exists() {
            return super::unavailable(format!(
                "{SSHD} is missing (apt-get install openssh-server; scripts/test.sh does)"
            ));
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let host_key = dir.path().join("host_key");
        let client_key = dir.path().join("client_key");
        if !keygen(&host_key) || !keygen(&client_key) {
            return super::unavailable("ssh-keygen failed".into());
        }
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized).expect("authorized_keys");
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).expect("sftp root");
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".into());
        let port = crate::free_port();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\nSubsystem sftp internal-sftp\nAllowUsers {user}\n",
                host_key.display(),
                dir.path().join("sshd.pid").display(),
                authorized.display(),
            ),
        )
        .expect("sshd_config");
        // sshd needs its privilege-separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.path().join("sshd.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) => return super::unavailable(format!("cannot start sshd: {error}")),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default();
                return super::unavailable(format!("sshd did not listen: {log}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Self {
            port,
            user,
            private_key: std::fs::read_to_string(&client_key).expect("client key"),
            root,
            child,
            _dir: dir,
        })
    }
}

impl Drop for SftpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
