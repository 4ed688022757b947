//! `kubectl switchyard`: the queue of a tenant's runner from the command line. It talks
//! to the runner through the API server's service proxy with the kubeconfig's
//! credentials (no port-forward), or to a runner URL given with `--server`.
//!
//! ```text
//! kubectl switchyard -n acme --service acme-eu-west-1 tasks --state failed
//! kubectl switchyard -n acme --service acme-eu-west-1 tasks retry 01a2… 01a3…
//! kubectl switchyard --server http://127.0.0.1:8080 routes -o yaml
//! ```

pub mod client;
pub mod output;

use clap::{Args, Parser, Subcommand};
use http::Method;
use serde_json::{Value, json};

use client::segment;
pub use client::{ClientError, RunnerClient};
use output::Format;

#[derive(Parser)]
#[command(
    name = "kubectl-switchyard",
    version,
    about = "Inspect and operate a Switchyard runner's queue"
)]
pub struct Cli {
    #[command(flatten)]
    pub target: Target,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,
    #[command(subcommand)]
    pub command: Command,
}

/// Which runner.
#[derive(Args, Clone)]
pub struct Target {
    /// The tenant's namespace (also the namespace of the routes and tasks).
    #[arg(short = 'n', long, default_value = "default", global = true)]
    pub namespace: String,
    /// The runner's Service (in the cluster, through the API server's service proxy).
    #[arg(long, env = "SWITCHYARD_SERVICE", global = true)]
    pub service: Option<String>,
    /// A runner URL to call directly instead (local mode, or an existing port-forward).
    #[arg(long, env = "SWITCHYARD_SERVER", global = true)]
    pub server: Option<String>,
    /// The runner's API token, if it requires one.
    #[arg(long, env = "SWITCHYARD_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// List tasks, or act on them.
    Tasks(TasksArgs),
    /// Routes with their task counts.
    Routes,
    /// Run a route now (poll), or queue the JSON given with --items.
    Trigger {
        route: String,
        /// Items to queue: a JSON object or array.
        #[arg(long)]
        items: Option<String>,
    },
    /// Storage entries.
    Storage {
        #[command(subcommand)]
        action: StorageAction,
    },
    /// Open the web console: port-forwards the Service and prints the URL.
    Console {
        /// Local port.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

#[derive(Args)]
pub struct TasksArgs {
    #[command(subcommand)]
    pub action: Option<TaskAction>,
    /// Only tasks of this route.
    #[arg(long)]
    pub route: Option<String>,
    /// Only tasks in this state (pending, processing, done, failed, skipped).
    #[arg(long)]
    pub state: Option<String>,
    /// At most this many tasks.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

#[derive(Subcommand)]
pub enum TaskAction {
    /// One task with its item and log.
    Get { id: String },
    /// Put tasks back to pending.
    Retry { ids: Vec<String> },
    /// Discard tasks.
    Discard {
        ids: Vec<String>,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum StorageAction {
    /// One entry, or with no key every entry of the storage.
    Get {
        storage: String,
        key: Option<String>,
    },
    /// Write an entry: VALUE is JSON.
    Put {
        storage: String,
        key: String,
        value: String,
    },
    Delete {
        storage: String,
        key: String,
    },
}

/// Parses the arguments, runs the command and prints; the exit code.
pub async fn main() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    if let Command::Console { port } = cli.command {
        return console(&cli.target, port);
    }
    let client = connect(&cli.target).await?;
    match run(&client, &cli.target.namespace, &cli.command, cli.output).await {
        Ok(text) => {
            print!("{text}");
            Ok(0)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(1)
        }
    }
}

async fn connect(target: &Target) -> anyhow::Result<RunnerClient> {
    Ok(match (&target.server, &target.service) {
        (Some(server), _) => RunnerClient::direct(server, target.token.clone()),
        (None, Some(service)) => {
            RunnerClient::through_cluster(&target.namespace, service, target.token.clone()).await?
        }
        (None, None) => {
            anyhow::bail!("name the runner's Service with --service (or a URL with --server)")
        }
    })
}

fn console(target: &Target, port: u16) -> anyhow::Result<i32> {
    if let Some(server) = &target.server {
        println!("{}/console/", server.trim_end_matches('/'));
        return Ok(0);
    }
    let Some(service) = &target.service else {
        anyhow::bail!("name the runner's Service with --service");
    };
    println!("Console: http://127.0.0.1:{port}/console/ (Ctrl-C to stop)");
    let status = std::process::Command::new("kubectl")
        .args(["port-forward", "-n", &target.namespace])
        .arg(format!("service/{service}"))
        .arg(format!("{port}:http"))
        .status()?;
    Ok(status.code().unwrap_or(1))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs one command; the text to print.
pub async fn run(
    client: &RunnerClient,
    namespace: &str,
    command: &Command,
    format: Format,
) -> Result<String, ClientError> {
    let ns = format!("/api/v1/namespaces/{}", segment(namespace));
    let print = |value: &Value, table: &dyn Fn(&Value) -> String| match format {
        Format::Table => table(value),
        other => output::document(value, other),
    };
    match command {
        Command::Routes => {
            let routes = client
                .call(Method::GET, &format!("{ns}/routes"), None)
                .await?;
            Ok(print(&routes, &output::routes_table))
        }
        Command::Tasks(args) => match &args.action {
            None => {
                let mut query = vec![format!("limit={}", args.limit)];
                if let Some(route) = &args.route {
                    query.push(format!("route={}", segment(route)));
                }
                if let Some(state) = &args.state {
                    query.push(format!("state={}", segment(state)));
                }
                let page = client
                    .call(
                        Method::GET,
                        &format!("{ns}/tasks?{}", query.join("&")),
                        None,
                    )
                    .await?;
                Ok(print(&page, &|p| output::tasks_table(p, now_ms())))
            }
            Some(TaskAction::Get { id }) => {
                let task = client
                    .call(Method::GET, &format!("{ns}/tasks/{}", segment(id)), None)
                    .await?;
                Ok(print(&task, &|t| output::document(t, Format::Yaml)))
            }
            Some(TaskAction::Retry { ids }) => {
                act(client, &ns, ids, "retry", &json!({}), format).await
            }
            Some(TaskAction::Discard { ids, reason }) => {
                let body = json!({"reason": reason});
                act(client, &ns, ids, "discard", &body, format).await
            }
        },
        Command::Trigger { route, items } => {
            let body = items
                .as_deref()
                .map(serde_json::from_str::<Value>)
                .transpose()
                .map_err(ClientError::Decode)?;
            let answer = client
                .call(
                    Method::POST,
                    &format!("{ns}/routes/{}/trigger", segment(route)),
                    body.as_ref(),
                )
                .await?;
            Ok(print(&answer, &|a| {
                format!("{} task(s) queued\n", output::cell(&a["count"]))
            }))
        }
        Command::Storage { action } => storage(client, &ns, action, format).await,
        Command::Console { .. } => Ok(String::new()),
    }
}

async fn act(
    client: &RunnerClient,
    ns: &str,
    ids: &[String],
    verb: &str,
    body: &Value,
    format: Format,
) -> Result<String, ClientError> {
    let mut results = Vec::new();
    for id in ids {
        let path = format!("{ns}/tasks/{}/{verb}", segment(id));
        results.push(client.call(Method::POST, &path, Some(body)).await?);
    }
    let results = Value::Array(results);
    Ok(match format {
        Format::Table => {
            let rows: Vec<Vec<String>> = results
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|r| vec![output::cell(&r["id"]), output::cell(&r["state"])])
                .collect();
            output::table(&["ID", "STATE"], &rows)
        }
        other => output::document(&results, other),
    })
}

async fn storage(
    client: &RunnerClient,
    ns: &str,
    action: &StorageAction,
    format: Format,
) -> Result<String, ClientError> {
    let entry_path = |storage: &str, key: &str| {
        format!("{ns}/storages/{}/items/{}", segment(storage), segment(key))
    };
    let entries_table = |value: &Value| {
        let list = value["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![value.clone()]);
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|e| vec![output::cell(&e["key"]), e["value"].to_string()])
            .collect();
        output::table(&["KEY", "VALUE"], &rows)
    };
    let value = match action {
        StorageAction::Get { storage, key: None } => {
            client
                .call(
                    Method::GET,
                    &format!("{ns}/storages/{}/items", segment(storage)),
                    None,
                )
                .await?
        }
        StorageAction::Get {
            storage,
            key: Some(key),
        } => {
            client
                .call(Method::GET, &entry_path(storage, key), None)
                .await?
        }
        StorageAction::Put {
            storage,
            key,
            value,
        } => {
            let value: Value = serde_json::from_str(value).map_err(ClientError::Decode)?;
            client
                .call(Method::PUT, &entry_path(storage, key), Some(&value))
                .await?
        }
        StorageAction::Delete { storage, key } => {
            client
                .call(Method::DELETE, &entry_path(storage, key), None)
                .await?;
            return Ok(format!("deleted {key}\n"));
        }
    };
    Ok(match format {
        Format::Table => entries_table(&value),
        other => output::document(&value, other),
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent_and_parses_the_documented_forms() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "kubectl-switchyard",
            "-n",
            "acme",
            "--service",
            "acme-eu",
            "tasks",
            "--state",
            "failed",
            "-o",
            "yaml",
        ])
        .expect("parse");
        assert_eq!(
            (cli.target.namespace.as_str(), cli.output),
            ("acme", Format::Yaml)
        );
        assert!(
            matches!(cli.command, Command::Tasks(TasksArgs { state: Some(ref s), .. }) if s == "failed")
        );
        let cli =
            Cli::try_parse_from(["kubectl-switchyard", "tasks", "retry", "a", "b"]).expect("parse");
        assert!(
            matches!(cli.command, Command::Tasks(TasksArgs { action: Some(TaskAction::Retry { ref ids }), .. }) if ids.len() == 2)
        );
    }
}
