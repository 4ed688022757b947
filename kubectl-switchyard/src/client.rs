//! How the plugin reaches a runner: a base URL and a path. Through the cluster, the base
//! is the API server's service proxy for the runner's Service
//! (`/api/v1/namespaces/<ns>/services/<svc>:http/proxy`), called with the kubeconfig's
//! credentials; directly (`--server`), it is the runner's own URL. Both build the same
//! request paths, so a test against a loopback runner covers the proxy's path too.
//!
//! The API server does not forward the caller's `Authorization` header to the Service, so
//! a runner token (`--token`, `SWITCHYARD_TOKEN`) goes in `X-Switchyard-Authorization`,
//! which the runner reads as well.

use bytes::Bytes;
use http::Method;
use serde_json::Value;

/// The header the runner reads when a proxy took `Authorization`.
pub const FORWARDED_AUTH_HEADER: &str = "x-switchyard-authorization";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the runner at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the runner answered {status} ({code}): {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the runner's answer is not JSON: {0}")]
    Decode(#[source] serde_json::Error),
    #[error("cannot load the kubeconfig: {0}")]
    Kubeconfig(#[source] kube::Error),
}

enum Transport {
    Direct(reqwest::Client),
    Cluster(kube::Client),
}

/// A runner's API.
pub struct RunnerClient {
    base: String,
    token: Option<String>,
    transport: Transport,
}

/// The service proxy path of a runner's Service.
pub fn service_proxy_base(namespace: &str, service: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/services/{service}:http/proxy")
}

/// A path segment, percent-encoded.
pub fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl RunnerClient {
    /// Talks to the runner at `base_url` directly.
    pub fn direct(base_url: &str, token: Option<String>) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            token,
            transport: Transport::Direct(reqwest::Client::new()),
        }
    }

    /// Talks to the runner behind `service` in `namespace` through the API server named
    /// by the kubeconfig, with its credentials.
    pub async fn through_cluster(
        namespace: &str,
        service: &str,
        token: Option<String>,
    ) -> Result<Self, ClientError> {
        let client = kube::Client::try_default()
            .await
            .map_err(ClientError::Kubeconfig)?;
        Ok(Self {
            base: service_proxy_base(namespace, service),
            token,
            transport: Transport::Cluster(client),
        })
    }

    /// `method` on `path` (from `/api/v1/…`), with an optional JSON body; the answer's
    /// JSON (`null` for an empty answer).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let body = body.map(Value::to_string).unwrap_or_default();
        let (status, bytes) = match &self.transport {
            Transport::Direct(client) => {
                let mut request = client.request(method, &url).body(body);
                if let Some(token) = &self.token {
                    // Both: a runner URL reads the first, a proxy (`kubectl proxy`, the
                    // API server) passes on only the second.
                    request = request
                        .bearer_auth(token)
                        .header(FORWARDED_AUTH_HEADER, format!("Bearer {token}"));
                }
                let response = request
                    .header("content-type", "application/json")
                    .send()
                    .await
                    .map_err(|e| connect(&url, e))?;
                let status = response.status().as_u16();
                (
                    status,
                    response.bytes().await.map_err(|e| connect(&url, e))?,
                )
            }
            Transport::Cluster(client) => {
                let mut request = http::Request::builder()
                    .method(method)
                    .uri(&url)
                    .header("content-type", "application/json");
                if let Some(token) = &self.token {
                    request = request.header(FORWARDED_AUTH_HEADER, format!("Bearer {token}"));
                }
                let request = request
                    .body(kube::client::Body::from(body.into_bytes()))
                    .map_err(|e| connect(&url, e))?;
                let response = client.send(request).await.map_err(|e| connect(&url, e))?;
                let status = response.status().as_u16();
                let bytes = response
                    .into_body()
                    .collect_bytes()
                    .await
                    .map_err(|e| connect(&url, e))?;
                (status, bytes)
            }
        };
        answer(status, &bytes)
    }
}

fn connect(url: &str, error: impl std::fmt::Display) -> ClientError {
    ClientError::Connect {
        url: url.to_owned(),
        message: error.to_string(),
    }
}

fn answer(status: u16, bytes: &Bytes) -> Result<Value, ClientError> {
    let value: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).map_err(ClientError::Decode)?
    };
    if (200..300).contains(&status) {
        return Ok(value);
    }
    Err(ClientError::Api {
        status,
        code: value["code"].as_str().unwrap_or("unknown").to_owned(),
        message: value["error"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned()),
    })
}
