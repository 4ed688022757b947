//! Leader election over a `coordination.k8s.io/v1` Lease, the protocol of client-go's
//! `leaderelection` (so `kubectl get lease` reads the same): the leader renews the Lease
//! every retry period; a candidate takes it over once the record has not changed for the
//! lease duration, measured on its own clock from when it first saw that record (so
//! clock skew between nodes does not matter); every write is a replace carrying the
//! `resourceVersion` it read, so of two candidates racing for a free Lease exactly one
//! wins (the other gets `409 Conflict`).
//!
//! The leader stops its work as soon as it has not renewed for the renew deadline, which
//! is shorter than the lease duration: it has stopped before anyone else may start. On
//! shutdown the work finishes first, then the Lease is released (holder cleared), so the
//! next replica of a rolling update takes over at once instead of after the lease
//! duration — and a rolling update never runs two active reconcilers.
//!
//! Written here rather than taken from a crate: `kube-leader-election` acquires with a
//! merge patch (no fencing: two candidates can both win), and `kube-lease-manager`'s
//! release for kube 2 needs field-ownership conflicts to be safe, which an in-memory
//! test API cannot show; optimistic concurrency on `resourceVersion` is ~the whole
//! protocol and is testable as it is.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::chrono::Utc;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

/// Timing of the election, client-go's defaults unless a test shortens them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Namespace of the Lease (the operator's own).
    pub namespace: String,
    /// Name of the Lease (one per operator release).
    pub name: String,
    /// This candidate, unique among them (the pod name).
    pub identity: String,
    /// How long a record must stay unchanged before a candidate takes the Lease over.
    pub lease_duration: Duration,
    /// How long the leader keeps acting without a successful renewal.
    pub renew_deadline: Duration,
    /// How often the leader renews and candidates retry.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// Lease duration 15 s, renew deadline 10 s, retry period 2 s (client-go's).
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The election failed or leadership was lost.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("cannot read or write Lease `{namespace}/{name}`: {source}")]
    Api {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "lost Lease `{namespace}/{name}`: not renewed within {deadline:?} (or taken over); stopping so that only the new leader acts"
    )]
    Lost {
        namespace: String,
        name: String,
        deadline: Duration,
    },
}

impl LeaderError {
    /// A fixed label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            LeaderError::Api { .. } => "lease_api",
            LeaderError::Lost { .. } => "lease_lost",
        }
    }
}

/// The record last seen, and when this candidate first saw it.
struct Seen {
    resource_version: Option<String>,
    at: Instant,
}

/// One candidate for one Lease.
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    seen: Option<Seen>,
}

impl Elector {
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            seen: None,
        }
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    fn api_error(&self, source: kube::Error) -> LeaderError {
        LeaderError::Api {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            source,
        }
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.config.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// One round: creates, takes over or renews the Lease if it may. `true` when this
    /// candidate holds it afterwards; `false` when another does (or won a race).
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaderError> {
        let now = MicroTime(Utc::now());
        let Some(mut lease) = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.api_error(e))?
        else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(self.duration_seconds()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => Ok(self.saw(&created)),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(error) => Err(self.api_error(error)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(self.config.identity.as_str());
        if !ours && holder.is_some() {
            let changed = self
                .seen
                .as_ref()
                .is_none_or(|seen| seen.resource_version != lease.resource_version());
            if changed {
                self.saw(&lease);
            }
            let duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(self.config.lease_duration, Duration::from_secs);
            let unchanged_for = self.seen.as_ref().map(|s| s.at.elapsed());
            if unchanged_for.is_none_or(|elapsed| elapsed < duration) {
                return Ok(false);
            }
        }
        let mut next = LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.duration_seconds()),
            renew_time: Some(now.clone()),
            ..spec.clone()
        };
        if !ours {
            next.acquire_time = Some(now);
            next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        lease.spec = Some(next);
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => Ok(self.saw(&written)),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(self.api_error(error)),
        }
    }

    /// Remembers `lease` as seen now; `true` when this candidate holds it.
    fn saw(&mut self, lease: &Lease) -> bool {
        self.seen = Some(Seen {
            resource_version: lease.resource_version(),
            at: Instant::now(),
        });
        lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(self.config.identity.as_str())
    }

    /// Clears the holder if this candidate holds the Lease, so the next one takes over
    /// without waiting for the lease duration.
    pub async fn release(&mut self) -> Result<(), LeaderError> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.api_error(e))?
        else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Utc::now()));
        lease.spec = Some(spec);
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            // Taken over meanwhile: nothing left to release.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            Err(error) => Err(self.api_error(error)),
        }
    }
}

/// Waits for the Lease, then runs `work` while holding it. Returns `Ok(None)` when
/// `shutdown` is cancelled before this candidate leads; `Ok(Some(output))` when `work`
/// ended (on shutdown, or by itself), after releasing the Lease; `Err(Lost)` when a
/// renewal did not succeed within the renew deadline, after dropping `work` (the caller
/// should exit: a new leader may act). `work` gets the shutdown token, to finish
/// gracefully.
pub async fn run_as_leader<F, Fut, T>(
    mut elector: Elector,
    shutdown: CancellationToken,
    work: F,
) -> Result<Option<T>, LeaderError>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = T>,
{
    let LeaseConfig {
        namespace,
        name,
        identity,
        renew_deadline,
        retry_period,
        ..
    } = elector.config().clone();
    loop {
        let round = tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            round = elector.try_acquire_or_renew() => round,
        };
        match round {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "Cannot take part in the leader election."),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(retry_period) => {}
        }
    }
    tracing::info!(lease = %name, %namespace, %identity, "Leading: reconciling.");
    let work = work(shutdown.clone());
    tokio::pin!(work);
    let mut renewed = Instant::now();
    let output = loop {
        tokio::select! {
            output = &mut work => break Some(output),
            () = tokio::time::sleep(retry_period) => {}
        }
        let left = renew_deadline.saturating_sub(renewed.elapsed());
        match tokio::time::timeout(left, elector.try_acquire_or_renew()).await {
            Ok(Ok(true)) => renewed = Instant::now(),
            // Someone else holds it: it took the Lease over, so stop at once.
            Ok(Ok(false)) => break None,
            Ok(Err(error)) => tracing::warn!(%error, "Cannot renew the Lease; retrying."),
            Err(_elapsed) => {}
        }
        if renewed.elapsed() >= renew_deadline {
            break None;
        }
    };
    let Some(output) = output else {
        return Err(LeaderError::Lost {
            namespace,
            name,
            deadline: renew_deadline,
        });
    };
    if let Err(error) = elector.release().await {
        tracing::warn!(%error, "Cannot release the Lease; the next leader takes over when it expires.");
    } else {
        tracing::info!(lease = %name, %namespace, "Released the Lease.");
    }
    Ok(Some(output))
}
