//! The runner binary, built from this package so scenario tests find it through
//! `CARGO_BIN_EXE_switchyard-runner-under-test`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    switchyard_runner::cli::main().await
}
