//! The `runner` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use notify::Watcher;
use tokio::sync::mpsc;

use crate::api::auth::{Authenticator, Oidc, OidcConfig, Role, StaticTokens};
use crate::api::{self, AppState};
use crate::audit::{AuditLog, Fingerprint, record_reload};
use crate::engine::{DiskFloor, Engine, Limits};
use crate::housekeeping::{self, Retention};
use crate::queue::{DEFAULT_LEASE_DURATION, QueueStore, SqlQueue};
use crate::redact;
use crate::runtime;
use crate::secrets::SecretSource;
use crate::status_report;
use crate::storage::StorageStore;
use crate::telemetry;

/// Quiet time after a manifest change before reloading, so an editor's save (or a
/// `git pull`) of several files reloads once.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(300);

#[derive(Parser)]
#[command(
    name = "runner",
    version,
    about = "Switchyard runner: routes items from incoming systems through a durable queue to outgoing systems"
)]
struct Cli {
    /// How log lines are written to stderr: `text` (colours only on a terminal, and
    /// never with `NO_COLOR` set) or `json` (one object per line, for log pipelines).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = telemetry::LogFormat::Text,
        env = "SWITCHYARD_LOG_FORMAT"
    )]
    log_format: telemetry::LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the manifests, then serve webhooks, the API and delivery until stopped.
    Run(Box<RunArgs>),
    /// Validate the manifests and exit: 0 when valid, 2 with every problem listed.
    Validate(ManifestArgs),
    /// Run the `TransformerTest` documents beside the manifests: 0 when all pass, 1 with
    /// a diff per mismatch, 2 when the manifests are invalid.
    Test(ManifestArgs),
}

#[derive(Args)]
struct ManifestArgs {
    /// Manifest files or directories (searched recursively for .yaml/.yml), multi-document
    /// YAML. Repeat for several.
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    paths: Vec<PathBuf>,

    /// Where `secretKeyRef`s are resolved: `<DIR>/<namespace>/<secret>/<key>`, then
    /// `<DIR>/<secret>/<key>` (a mounted Secret), then the environment variable
    /// `SWITCHYARD_SECRET_<SECRET>_<KEY>` (upper case, other characters as `_`).
    #[arg(long, env = "SWITCHYARD_SECRETS_DIR")]
    secrets_dir: Option<PathBuf>,

    #[command(flatten)]
    vars: crate::vars::VarFiles,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    manifests: ManifestArgs,

    /// Address for webhooks, the API, /metrics and probes.
    #[arg(long, default_value = "127.0.0.1:8080", env = "SWITCHYARD_LISTEN")]
    listen: SocketAddr,

    /// Directory for the embedded queue (created if missing).
    #[arg(long, default_value = "data", env = "SWITCHYARD_DATA_DIR")]
    data_dir: PathBuf,

    /// Queue database: `sqlite://<file>` or `postgres://…`. Default: SQLite in the data
    /// directory.
    #[arg(long, env = "SWITCHYARD_QUEUE_URL", hide_env_values = true)]
    queue_url: Option<String>,

    /// Bearer token the API requires (from the environment only, so it never shows in
    /// a process list). Without one the runner only listens on loopback.
    #[arg(
        long = "api-token",
        env = "SWITCHYARD_API_TOKEN",
        hide_env_values = true,
        hide = true
    )]
    api_token: Option<String>,

    /// A YAML file of API tokens with roles (`- {name, role, token}`; in a cluster, a
    /// mounted Secret). Each caller's name goes into task logs and the audit trail.
    #[arg(long, env = "SWITCHYARD_API_TOKENS_FILE")]
    api_tokens_file: Option<PathBuf>,

    #[command(flatten)]
    oidc: OidcArgs,

    /// Days to keep the audit trail.
    #[arg(long, default_value_t = 90, env = "SWITCHYARD_AUDIT_RETENTION_DAYS")]
    audit_retention_days: u64,

    /// Seconds a runner owns a task it is delivering; after a crash, a shared (PostgreSQL)
    /// queue hands the task to another runner once this has passed. Must exceed the
    /// longest HTTP time-out.
    #[arg(long, default_value_t = DEFAULT_LEASE_DURATION.as_secs(), env = "SWITCHYARD_LEASE_SECONDS")]
    lease_seconds: u64,

    /// Do not reload when a manifest file changes (SIGHUP still reloads).
    #[arg(long)]
    no_watch: bool,

    /// Hours to keep `done` and `skipped` tasks (with their logs). Absent: forever.
    #[arg(long, env = "SWITCHYARD_RETENTION_DONE_HOURS")]
    retention_done_hours: Option<u64>,

    /// Hours to keep `failed` tasks. Absent: forever (they wait for a human).
    #[arg(long, env = "SWITCHYARD_RETENTION_FAILED_HOURS")]
    retention_failed_hours: Option<u64>,

    /// Back-pressure: the most undelivered tasks a route may have when it does not set
    /// `spec.processing.maxPending`; past it its webhook answers 429 and its poll skips
    /// (set by the operator from the Tenant's `spec.backPressure.maxPendingPerRoute`).
    /// Absent: no limit.
    #[arg(long, env = "SWITCHYARD_MAX_PENDING", value_parser = clap::value_parser!(u64).range(1..))]
    max_pending: Option<u64>,

    /// Back-pressure: MiB an SQLite queue's volume must keep free; below it webhooks
    /// answer 503 and polls skip. 0: no floor. Not used with PostgreSQL.
    #[arg(long, default_value_t = 0, env = "SWITCHYARD_MIN_FREE_DISK_MIB")]
    min_free_disk_mib: u64,

    /// The region this runner serves, for logs (set by the operator).
    #[arg(long, env = "SWITCHYARD_REGION")]
    region: Option<String>,

    /// Write each route's queue snapshot to its Route status in the cluster (set by the
    /// operator; needs the in-cluster service account).
    #[arg(long, env = "SWITCHYARD_REPORT_STATUS")]
    report_status: bool,

    #[command(flatten)]
    limits: crate::limits::Limits,
}

/// OIDC: API callers with a JWT from this issuer.
#[derive(Args)]
struct OidcArgs {
    /// The issuer URL; tokens must carry it as `iss`. Enables OIDC.
    #[arg(long, env = "SWITCHYARD_OIDC_ISSUER", requires = "oidc_audience")]
    oidc_issuer: Option<String>,
    /// The audience tokens must be issued for (`aud`).
    #[arg(long, env = "SWITCHYARD_OIDC_AUDIENCE")]
    oidc_audience: Option<String>,
    /// The issuer's JWKS URL. Default: `jwks_uri` from its discovery document.
    #[arg(long, env = "SWITCHYARD_OIDC_JWKS_URL")]
    oidc_jwks_url: Option<String>,
    /// The claim naming the role (a dotted path, e.g. `realm_access.roles`): a string or
    /// a list; values `viewer`, `editor`, `admin` (after the prefix).
    #[arg(long, default_value = "roles", env = "SWITCHYARD_OIDC_ROLES_CLAIM")]
    oidc_roles_claim: String,
    /// A prefix the claim's values carry, e.g. `switchyard-` for `switchyard-editor`.
    #[arg(long, default_value = "", env = "SWITCHYARD_OIDC_ROLE_PREFIX")]
    oidc_role_prefix: String,
}

/// The API's authentication from the arguments.
fn authenticator(
    api_token: Option<String>,
    tokens_file: Option<&std::path::Path>,
    oidc: OidcArgs,
) -> anyhow::Result<Authenticator> {
    let mut tokens = match tokens_file {
        Some(path) => StaticTokens::from_file(path)?,
        None => StaticTokens::default(),
    };
    if let Some(token) = api_token {
        // Fail closed: a token variable that is set but blank is a mistake, not "no
        // authentication".
        anyhow::ensure!(
            !token.trim().is_empty(),
            "SWITCHYARD_API_TOKEN (--api-token) is set but empty or only whitespace; a token cannot be empty"
        );
        tokens.add("api-token".into(), Role::Admin, token);
    }
    let oidc = match (oidc.oidc_issuer, oidc.oidc_audience) {
        (Some(issuer), Some(audience)) => Some(Oidc::new(OidcConfig {
            issuer,
            audience,
            jwks_url: oidc.oidc_jwks_url,
            roles_claim: oidc.oidc_roles_claim,
            role_prefix: oidc.oidc_role_prefix,
        })?),
        _ => None,
    };
    Ok(Authenticator::new(tokens, oidc))
}

/// Exit code for invalid manifests or arguments.
const EXIT_INVALID: i32 = 2;

pub async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Run(args) = &cli.command {
        register_credentials(args);
    }
    // Traces are for `runner run` only; their settings come from the OTEL_* variables.
    let traces = match &cli.command {
        Command::Run(_) => telemetry::TraceConfig::from_env().unwrap_or_else(|error| {
            eprintln!("Invalid trace settings: {error}");
            std::process::exit(EXIT_INVALID);
        }),
        _ => None,
    };
    if let Err(error) = telemetry::init_logging(cli.log_format, traces.as_ref()) {
        eprintln!("{error}");
        std::process::exit(EXIT_INVALID);
    }
    match cli.command {
        Command::Test(args) => {
            let secrets = SecretSource {
                dir: args.secrets_dir.clone(),
            };
            let context = match args.vars.context(&secrets) {
                Ok(context) => context,
                Err(problems) => {
                    let problems = switchyard_crds::problem::Problems(problems);
                    eprintln!("{}", redact::redact(&problems.to_string()));
                    std::process::exit(EXIT_INVALID);
                }
            };
            match crate::transform::testing::run_all(&args.paths, &context).await {
                Ok(report) => {
                    println!("{} passed, {} failed", report.passed, report.failed);
                    if report.failed > 0 {
                        std::process::exit(1);
                    }
                    Ok(())
                }
                Err(problems) => {
                    eprintln!("{}", redact::redact(&problems.to_string()));
                    std::process::exit(EXIT_INVALID);
                }
            }
        }
        Command::Validate(args) => {
            let secrets = SecretSource {
                dir: args.secrets_dir.clone(),
            };
            match runtime::load_with(&args.paths, &secrets, &args.vars) {
                Ok(runtime) => {
                    println!("{} route(s) valid", runtime.routes.len());
                    Ok(())
                }
                Err(problems) => {
                    eprintln!("{}", redact::redact(&problems.to_string()));
                    std::process::exit(EXIT_INVALID);
                }
            }
        }
        Command::Run(args) => {
            if let Err(error) = run(*args).await {
                // Start-up errors can quote a queue URL or a server's answer.
                eprintln!("Error: {}", redact::redact(&format!("{error:#}")));
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// Registers the credentials given on the command line or in the environment with the
/// redactor, before anything (a log line, a start-up error) can print them.
fn register_credentials(args: &RunArgs) {
    if let Some(url) = &args.queue_url {
        redact::register_url_password(url);
    }
    if let Some(token) = &args.api_token {
        redact::register(token.trim());
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    crate::limits::install(args.limits.clone());
    let secrets = SecretSource {
        dir: args.manifests.secrets_dir.clone(),
    };
    // First, so every API token is registered with the redactor before anything runs.
    let auth = match authenticator(args.api_token, args.api_tokens_file.as_deref(), args.oidc) {
        Ok(auth) => Arc::new(auth),
        Err(error) => {
            eprintln!("{}", redact::redact(&format!("{error:#}")));
            std::process::exit(EXIT_INVALID);
        }
    };
    let (runtime, loaded_files) =
        match runtime::load_tracked(&args.manifests.paths, &secrets, &args.manifests.vars) {
            Ok(loaded) => loaded,
            Err(problems) => {
                eprintln!("{}", redact::redact(&problems.to_string()));
                eprintln!("Nothing was started.");
                std::process::exit(EXIT_INVALID);
            }
        };
    if !auth.is_enabled() && !args.listen.ip().is_loopback() {
        eprintln!(
            "Refusing to serve the API on {} without authentication: set SWITCHYARD_API_TOKENS_FILE, SWITCHYARD_OIDC_ISSUER or SWITCHYARD_API_TOKEN, or listen on 127.0.0.1.",
            args.listen
        );
        std::process::exit(EXIT_INVALID);
    }
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            args.data_dir.display()
        )
    })?;
    let queue_url = args
        .queue_url
        .unwrap_or_else(|| SqlQueue::default_url(&args.data_dir));
    let limits = Limits {
        default_max_pending: args.max_pending,
        disk_floor: sqlite_dir(&queue_url, &args.data_dir).map(|dir| DiskFloor {
            dir,
            min_free_mib: args.min_free_disk_mib,
        }),
    };
    let queue = SqlQueue::connect(&queue_url, Duration::from_secs(args.lease_seconds)).await?;
    let storage: Arc<dyn StorageStore> = Arc::new(queue.storage());
    let audit: Arc<dyn AuditLog> = Arc::new(queue.audit());
    let notifications = queue.notifications();
    tokio::spawn(crate::audit::retention_loop(
        audit.clone(),
        Duration::from_secs(args.audit_retention_days * 24 * 3_600),
    ));
    let store: Arc<dyn QueueStore> = Arc::new(queue);
    let engine = Engine::with_limits(store, storage, runtime, limits);
    engine.start().await;
    housekeeping::apply_requests(&engine, &args.manifests.paths, &args.data_dir).await;
    let hours = |h: Option<u64>| h.map(|h| Duration::from_secs(h * 3_600));
    tokio::spawn(housekeeping::retention_loop(
        engine.clone(),
        Retention {
            done: hours(args.retention_done_hours),
            failed: hours(args.retention_failed_hours),
        },
    ));

    tokio::spawn(housekeeping::wait_timeout_loop(engine.clone()));
    tokio::spawn(housekeeping::provenance_loop(engine.clone()));
    tokio::spawn(crate::notify::run(engine.clone(), notifications));

    if args.report_status
        && let Some(client) = status_report::cluster_client().await
    {
        tokio::spawn(status_report::run(engine.clone(), client));
    }

    let watched: Vec<PathBuf> = args
        .manifests
        .paths
        .iter()
        .chain(args.manifests.vars.paths())
        .cloned()
        .collect();
    let reloads = reload_triggers(&watched, !args.no_watch)?;
    tokio::spawn(reload_loop(
        engine.clone(),
        args.manifests.paths.clone(),
        args.data_dir.clone(),
        (secrets, args.manifests.vars.clone()),
        loaded_files,
        reloads,
        audit.clone(),
    ));

    let ready = Arc::new(AtomicBool::new(false));
    let app = api::router(AppState {
        engine: engine.clone(),
        auth,
        audit,
        ready: ready.clone(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        listen = %args.listen,
        routes = engine.runtime().routes.len(),
        region = args.region.as_deref().unwrap_or("-"),
        "Runner started"
    );
    ready.store(true, Ordering::Relaxed);
    let draining = ready.clone();
    api::serve::serve(listener, app, async move {
        shutdown_signal().await;
        // Stop advertising readiness first, so a load balancer sends no new work.
        draining.store(false, Ordering::Relaxed);
        tracing::info!("Stopping: finishing in-flight requests and deliveries");
    })
    .await;
    engine.shutdown().await;
    // The spans still buffered go out before the process ends.
    tokio::task::spawn_blocking(telemetry::traces::shutdown)
        .await
        .ok();
    tracing::info!("Stopped");
    Ok(())
}

/// The directory of an SQLite queue's file (whose volume the disk floor watches);
/// `None` for PostgreSQL.
fn sqlite_dir(queue_url: &str, data_dir: &std::path::Path) -> Option<PathBuf> {
    let path = queue_url
        .strip_prefix("sqlite://")
        .or_else(|| queue_url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => Some(dir.to_owned()),
        _ => Some(data_dir.to_owned()),
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// A channel that receives a message on SIGHUP and, if `watch`, on file changes.
fn reload_triggers(paths: &[PathBuf], watch: bool) -> anyhow::Result<mpsc::Receiver<()>> {
    let (sender, receiver) = mpsc::channel(16);
    let on_hangup = sender.clone();
    tokio::spawn(async move {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangup.recv().await.is_some() {
            if on_hangup.send(()).await.is_err() {
                return;
            }
        }
    });
    if watch {
        let on_change = sender;
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Only catalog files count: a data directory inside the manifest directory
                // changes with every queued item.
                let is_manifest_change = event.is_ok_and(|e| {
                    !e.kind.is_access() && e.paths.iter().any(|p| is_catalog_file(p))
                });
                if is_manifest_change {
                    let _ = on_change.try_send(());
                }
            })
            .context("cannot watch the manifest files")?;
        for path in paths {
            watcher
                .watch(path, notify::RecursiveMode::Recursive)
                .with_context(|| format!("cannot watch {}", path.display()))?;
        }
        // The watcher lives as long as the process.
        std::mem::forget(watcher);
    }
    Ok(receiver)
}

/// Manifests, the operator's requests, and the `..data` link through which Kubernetes
/// swaps a mounted ConfigMap's files all at once.
fn is_catalog_file(path: &std::path::Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.starts_with("..data")
        || name == housekeeping::OPS_FILE
        || matches!(
            path.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml")
        )
}

async fn reload_loop(
    engine: Arc<Engine>,
    paths: Vec<PathBuf>,
    data_dir: PathBuf,
    (secrets, vars): (SecretSource, crate::vars::VarFiles),
    mut loaded_files: runtime::LoadedFiles,
    mut triggers: mpsc::Receiver<()>,
    audit: Arc<dyn AuditLog>,
) {
    let fingerprint = |paths: &[PathBuf]| match vars.context(&secrets) {
        Ok(context) => Fingerprint::of(paths, &context),
        Err(_) => Fingerprint::default(),
    };
    let mut loaded = fingerprint(&paths);
    while triggers.recv().await.is_some() {
        // Let a burst of changes settle, then reload once.
        tokio::time::sleep(RELOAD_DEBOUNCE).await;
        while triggers.try_recv().is_ok() {}
        housekeeping::apply_requests(&engine, &paths, &data_dir).await;
        // A refused reload is logged there, with why.
        if let Some(runtime) =
            runtime::reload_logged(&paths, &secrets, &vars, &mut loaded_files).await
        {
            engine.reload(runtime).await;
            let now = fingerprint(&paths);
            record_reload(audit.as_ref(), &loaded, &now).await;
            loaded = now;
        }
    }
}
