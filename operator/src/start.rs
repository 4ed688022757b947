//! What the operator process does once its client is up: wait for leadership (when
//! leader election is on), apply the CRDs it was built with (when asked), then run the
//! controllers until shutdown.

use kube::Client;
use tokio_util::sync::CancellationToken;

use crate::config::OperatorConfig;
use crate::crds::{self, CrdError};
use crate::leader::{self, Elector, LeaderError, LeaseConfig};

/// How the process starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    /// Server-side apply the embedded CRDs before reconciling.
    pub apply_crds: bool,
    /// Take part in this leader election; `None`: act at once (a single replica that
    /// never overlaps another, e.g. run locally).
    pub leader_election: Option<LeaseConfig>,
}

/// The process must stop.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Leader(#[from] LeaderError),
    #[error(transparent)]
    Crds(#[from] CrdError),
}

impl StartError {
    /// A fixed label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            StartError::Leader(error) => error.category(),
            StartError::Crds(error) => error.category(),
        }
    }
}

/// Runs until `shutdown` is cancelled (or leadership is lost: an error, so the process
/// exits and restarts as a candidate).
pub async fn run(
    client: Client,
    config: OperatorConfig,
    startup: Startup,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let work = {
        let client = client.clone();
        move |shutdown: CancellationToken| async move {
            crate::metrics::leading(true);
            if startup.apply_crds {
                crds::apply(&client).await?;
            }
            crate::controller::run(client, config, shutdown).await;
            crate::metrics::leading(false);
            Ok::<(), StartError>(())
        }
    };
    match startup.leader_election {
        None => work(shutdown).await,
        Some(lease) => {
            let elector = Elector::new(client, lease);
            leader::run_as_leader(elector, shutdown, work)
                .await?
                .unwrap_or(Ok(()))
        }
    }
}
