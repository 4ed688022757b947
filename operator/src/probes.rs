//! The operator's own HTTP endpoint: `/metrics`, `/healthz` (the process answers) and
//! `/readyz` (started: connected to the API server; a standby replica is ready too, so
//! a rolling update can proceed while it waits for the Lease).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

/// The probe endpoint could not listen.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for /metrics and the probes: {source}")]
pub struct ProbeError {
    pub addr: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

/// Whether the operator is ready; shared with `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}

async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, &'static str) {
    if readiness.get() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: starting")
    }
}

/// Binds `addr` and serves until `shutdown`; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> Result<SocketAddr, ProbeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ProbeError { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ProbeError { addr, source })?;
    tokio::spawn(async move {
        let served = axum::serve(listener, router(readiness))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "The /metrics and probe endpoint stopped.");
        }
    });
    Ok(bound)
}
