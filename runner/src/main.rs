#[tokio::main]
async fn main() -> anyhow::Result<()> {
    switchyard_runner::cli::main().await
}
