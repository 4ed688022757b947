/// mimalloc instead of the system allocator: malloc/free were ~31 % of the runner's
/// instructions per item on the end-to-end path, and mimalloc took 21 % off the total
/// (callgrind, BENCHMARKS.md "Speed (#13)").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's `mi_option_set` (in the library the allocator above links).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (libmimalloc-sys 0.1.49).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

fn main() -> anyhow::Result<()> {
    // Freed memory goes back to the system at once instead of after mimalloc's default
    // second: under bursts of batch webhooks the peak RSS was 144–160 MiB with the
    // default and 137–141 MiB without the delay (`switchyard-bench --scenario e2e-batch`),
    // items/s the same. `MIMALLOC_PURGE_DELAY` in the environment still decides.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an option by its index in mimalloc.h, before any other thread runs.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    // What `#[tokio::main]` builds, started after the option is set.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(switchyard_runner::cli::main())
}
