#[tokio::main]
async fn main() -> anyhow::Result<()> {
    std::process::exit(kubectl_switchyard::main().await?)
}
