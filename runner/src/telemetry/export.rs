//! The OTLP/HTTP exporter's HTTP client: the runner's own reqwest (0.12, rustls with
//! `ring`) behind `opentelemetry_http::HttpClient`, instead of the reqwest 0.13 that
//! `opentelemetry-otlp`'s client features would add to the tree.

use std::time::Duration;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

/// The largest export answer read (OTLP answers are a few bytes; as the SDK's own
/// clients, 4 MiB).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Sends export requests on the runner's Tokio runtime: the SDK's batch processor
/// exports from its own thread, outside the runtime.
#[derive(Debug, Clone)]
pub(super) struct ReqwestExport {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl ReqwestExport {
    /// Must be called inside the runtime.
    pub fn new(timeout: Duration) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestExport {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(async move {
                let request = reqwest::Request::try_from(request)?;
                let mut answer = client.execute(request).await?;
                let mut response = Response::builder().status(answer.status());
                if let Some(headers) = response.headers_mut() {
                    *headers = std::mem::take(answer.headers_mut());
                }
                let mut body = Vec::new();
                while let Some(chunk) = answer.chunk().await? {
                    if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                        return Err(HttpError::from("the OTLP endpoint's answer is over 4 MiB"));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(response.body(Bytes::from(body))?)
            })
            .await?
    }
}
