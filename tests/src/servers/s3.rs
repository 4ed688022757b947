//! An S3-compatible server on loopback: moto's server mode (from PyPI, see
//! [`super::python`]) with one bucket, and an OpenDAL client on it for the test's own
//! reads and writes.

use opendal::{Operator, services};

use super::python::PythonServer;

pub struct S3Server {
    /// `http://127.0.0.1:<port>`, the Connection's `endpoint`.
    pub endpoint: String,
    pub bucket: String,
    /// Moto accepts any credentials; these go into the Connection's Secrets.
    pub access_key_id: &'static str,
    pub secret_access_key: &'static str,
    /// A client on the bucket, for putting input and checking output.
    pub bucket_op: Operator,
    server: PythonServer,
}

impl S3Server {
    pub async fn start() -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = PythonServer::start(
            "moto's S3 server",
            "moto.server",
            &["-H", "127.0.0.1", "-p", "{port}"],
            dir,
        )
        .await?;
        let endpoint = format!("http://127.0.0.1:{}", server.port);
        let bucket = "switchyard-test".to_owned();
        // Moto takes unsigned requests; creating the bucket needs no client set-up.
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .expect("create bucket");
        assert!(
            created.status().is_success(),
            "create bucket: {}: {}",
            created.status(),
            server.log()
        );
        let (access_key_id, secret_access_key) = ("test-access-key", "test-secret-key");
        let bucket_op = Operator::new(
            services::S3::default()
                .endpoint(&endpoint)
                .bucket(&bucket)
                .region("us-east-1")
                .access_key_id(access_key_id)
                .secret_access_key(secret_access_key)
                .disable_config_load(),
        )
        .expect("S3 client")
        .finish();
        Some(Self {
            endpoint,
            bucket,
            access_key_id,
            secret_access_key,
            bucket_op,
            server,
        })
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Keys in the bucket under `prefix`, sorted.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .bucket_op
            .list_with(prefix)
            .recursive(true)
            .await
            .expect("list bucket")
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .map(|e| e.path().to_owned())
            .collect();
        keys.sort();
        keys
    }
}
