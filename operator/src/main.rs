//! `switchyard-operator`: argument parsing and wiring.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::Context as _;
use clap::Parser;
use switchyard_crds::v1alpha1::{LogFormat, log_colours};
use switchyard_operator::config::{ApiServerEgress, MetricsScraper, OperatorConfig};
use switchyard_operator::leader::LeaseConfig;
use switchyard_operator::probes::{self, Readiness};
use switchyard_operator::start::{self, Startup};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "switchyard-operator",
    version,
    about = "Switchyard operator: runs each Tenant's Routes on per-region runner workloads"
)]
struct Args {
    /// Runner image of Tenants that name none.
    #[arg(
        long,
        env = "SWITCHYARD_RUNNER_IMAGE",
        default_value = "ghcr.io/switchyard/runner:latest"
    )]
    runner_image: String,
    /// Reconcile only this region (the value of `topology.kubernetes.io/region`), so one
    /// catalog can drive several regional clusters. Absent: every region.
    #[arg(long, env = "SWITCHYARD_REGION")]
    region: Option<String>,
    /// Namespace the operator runs in (its pods may reach the runners; its Lease lives
    /// there).
    #[arg(long, env = "POD_NAMESPACE", default_value = "switchyard-system")]
    namespace: String,
    /// Reconcile only the Tenants of these namespaces (comma-separated), watching each
    /// with namespaced permissions. Absent: every namespace (needs a ClusterRole).
    #[arg(long, env = "SWITCHYARD_WATCH_NAMESPACES", value_delimiter = ',')]
    watch_namespaces: Vec<String>,
    /// Take part in leader election through a Lease, so that of several replicas (or
    /// the old and new pod of a rolling update) only one reconciles.
    #[arg(long, env = "SWITCHYARD_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the leader election Lease (in `--namespace`).
    #[arg(
        long,
        env = "SWITCHYARD_LEADER_ELECTION_LEASE",
        default_value = "switchyard-operator"
    )]
    leader_election_lease: String,
    /// This replica's identity in the election. Absent: the pod name (`POD_NAME`), else
    /// the host name.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Server-side apply the CRDs this operator was built with at start-up, so upgrades
    /// bring their new fields (`helm upgrade` never updates a chart's CRDs).
    #[arg(long, env = "SWITCHYARD_APPLY_CRDS", default_value_t = true, action = clap::ArgAction::Set)]
    apply_crds: bool,
    /// Namespace of the Prometheus that scrapes the runners; their NetworkPolicy admits
    /// it. Absent: no scraper is admitted from outside a tenant's namespace.
    #[arg(long, env = "SWITCHYARD_METRICS_SCRAPER_NAMESPACE")]
    metrics_scraper_namespace: Option<String>,
    /// Labels of the scraping Prometheus pods, `key=value` comma-separated. Absent: any
    /// pod of `--metrics-scraper-namespace`.
    #[arg(long, env = "SWITCHYARD_METRICS_SCRAPER_LABELS", value_delimiter = ',', value_parser = parse_label)]
    metrics_scraper_labels: Vec<(String, String)>,
    /// API server addresses (CIDRs, comma-separated) that runners with restricted egress
    /// may reach for their status reports. Absent: read from the `default/kubernetes`
    /// EndpointSlices.
    #[arg(long, env = "SWITCHYARD_API_SERVER_CIDRS", value_delimiter = ',')]
    api_server_cidr: Vec<String>,
    /// Ports of `--api-server-cidr`.
    #[arg(
        long,
        env = "SWITCHYARD_API_SERVER_PORTS",
        value_delimiter = ',',
        default_value = "443,6443"
    )]
    api_server_port: Vec<i32>,
    /// Where the operator serves `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, env = "SWITCHYARD_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: std::net::SocketAddr,
    /// How log lines are written to stderr: `text` (colours only on a terminal, and
    /// never with `NO_COLOR` set) or `json` (one object per line, for log pipelines).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "SWITCHYARD_LOG_FORMAT")]
    log_format: LogFormat,
}

/// A `--metrics-scraper-labels` item that is not `key=value`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not key=value")]
struct NotALabel(String);

fn parse_label(text: &str) -> Result<(String, String), NotALabel> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| NotALabel(text.to_owned()))
}

/// Logs to stderr in `format`; `RUST_LOG` sets the level (default `info`).
fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt().with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    );
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(log_colours(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .init(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the cause chain on one line, without a backtrace.
            eprintln!("Error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let shutdown = CancellationToken::new();
    let readiness = Readiness::default();
    let probes = probes::serve(args.metrics_addr, readiness.clone(), shutdown.clone()).await?;
    tracing::info!(%probes, "Serving /metrics, /healthz and /readyz.");
    let client = kube::Client::try_default().await.context(
        "No Kubernetes cluster configured: set KUBECONFIG (or ~/.kube/config), or run inside a cluster",
    )?;
    client.apiserver_version().await.context(
        "No Kubernetes cluster reachable with the current configuration (is the cluster up, and KUBECONFIG's context right?)",
    )?;
    let leader_election = args.leader_election.then(|| {
        let identity = args
            .identity
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| format!("switchyard-operator-{}", std::process::id()));
        LeaseConfig::new(&args.namespace, &args.leader_election_lease, &identity)
    });
    let config = OperatorConfig {
        runner_image: args.runner_image,
        region: args.region,
        namespace: args.namespace,
        watch_namespaces: args.watch_namespaces,
        scraper: args
            .metrics_scraper_namespace
            .map(|namespace| MetricsScraper {
                namespace,
                pod_labels: args
                    .metrics_scraper_labels
                    .into_iter()
                    .collect::<BTreeMap<_, _>>(),
            }),
        api_server: ApiServerEgress {
            cidrs: args.api_server_cidr,
            ports: args.api_server_port,
        },
    };
    let watched = if config.watch_namespaces.is_empty() {
        "all".to_owned()
    } else {
        config.watch_namespaces.join(",")
    };
    tracing::info!(
        region = config.region.as_deref().unwrap_or("all"),
        namespaces = %watched,
        leader_election = leader_election.is_some(),
        apply_crds = args.apply_crds,
        "Operator started."
    );
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    readiness.set(true);
    let startup = Startup {
        apply_crds: args.apply_crds,
        leader_election,
    };
    start::run(client, config, startup, shutdown)
        .await
        .context("The operator stopped")?;
    Ok(())
}

/// Cancels `shutdown` on SIGTERM or Ctrl-C.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::warn!(%error, "Cannot listen for SIGTERM; stop with Ctrl-C.");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("Shutting down: finishing in-flight reconciles.");
    shutdown.cancel();
}
