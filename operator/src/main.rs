//! `switchyard-operator`: argument parsing and wiring.

use anyhow::Context as _;
use clap::Parser;
use switchyard_operator::config::OperatorConfig;

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
    /// Namespace the operator runs in (its pods may reach the runners).
    #[arg(long, env = "POD_NAMESPACE", default_value = "switchyard-system")]
    namespace: String,
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let client = kube::Client::try_default().await.context(
        "No Kubernetes cluster configured: set KUBECONFIG (or ~/.kube/config), or run inside a cluster",
    )?;
    client.apiserver_version().await.context(
        "No Kubernetes cluster reachable with the current configuration (is the cluster up, and KUBECONFIG's context right?)",
    )?;
    let config = OperatorConfig {
        runner_image: args.runner_image,
        region: args.region,
        namespace: args.namespace,
    };
    tracing::info!(
        region = config.region.as_deref().unwrap_or("all"),
        "Operator started."
    );
    switchyard_operator::controller::run(client, config).await;
    Ok(())
}
