//! A receiving system on loopback that records what it was sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::Value;
use tokio::task::JoinHandle;

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum ReceiverMode {
    /// 200 after an optional delay.
    Accept { delay: Duration },
    /// Always this status, with this body and optional headers.
    Answer {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// When the request came in.
    pub at: std::time::Instant,
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<ReceiverMode>>,
    received: Arc<Mutex<Vec<Received>>>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: Arc<Mutex<(usize, usize)>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
    server: JoinHandle<()>,
}

impl Receiver {
    /// Starts on a free port.
    pub async fn start(mode: ReceiverMode) -> Self {
        Self::start_on(0, mode).await
    }

    /// Starts on `port` (0: any).
    pub async fn start_on(port: u16, mode: ReceiverMode) -> Self {
        let shared = Shared {
            mode: Arc::new(Mutex::new(mode)),
            received: Arc::default(),
            in_flight: Arc::default(),
        };
        let app = Router::new()
            .fallback(any(record))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_mode(&self, mode: ReceiverMode) {
        *self.shared.mode.lock().expect("mode lock") = mode;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("received lock").clone()
    }

    pub fn count(&self) -> usize {
        self.shared.received.lock().expect("received lock").len()
    }

    /// The most requests that were ever being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.in_flight.lock().expect("in-flight lock").1
    }

    /// Stops listening.
    pub fn stop(self) {
        self.server.abort();
    }
}

async fn record(State(shared): State<Shared>, request: axum::extract::Request) -> Response {
    {
        let mut in_flight = shared.in_flight.lock().expect("in-flight lock");
        in_flight.0 += 1;
        in_flight.1 = in_flight.1.max(in_flight.0);
    }
    let response = answer(&shared, request).await;
    shared.in_flight.lock().expect("in-flight lock").0 -= 1;
    response
}

async fn answer(shared: &Shared, request: axum::extract::Request) -> Response {
    let at = std::time::Instant::now();
    let method = request.method().to_string();
    let path = request.uri().to_string();
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mode = shared.mode.lock().expect("mode lock").clone();
    match mode {
        ReceiverMode::Accept { delay } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            shared
                .received
                .lock()
                .expect("received lock")
                .push(Received {
                    method,
                    path,
                    headers,
                    body,
                    at,
                });
            StatusCode::OK.into_response()
        }
        ReceiverMode::Answer {
            status,
            body: answer,
            headers: extra,
        } => {
            shared
                .received
                .lock()
                .expect("received lock")
                .push(Received {
                    method,
                    path,
                    headers,
                    body,
                    at,
                });
            let mut response_headers = HeaderMap::new();
            for (name, value) in extra {
                if let (Ok(name), Ok(value)) =
                    (name.parse::<axum::http::HeaderName>(), value.parse())
                {
                    response_headers.insert(name, value);
                }
            }
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                response_headers,
                answer,
            )
                .into_response()
        }
    }
}
