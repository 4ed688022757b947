/// mimalloc instead of the system allocator: malloc/free were ~31 % of the runner's
/// instructions per item on the end-to-end path, and mimalloc took 21 % off the total
/// (callgrind, BENCHMARKS.md "Speed (#13)").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    switchyard_runner::cli::main().await
}
