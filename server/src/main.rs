#![forbid(unsafe_code)]
//! `attest`: see `server::cli` for the commands.

/// mimalloc instead of the system allocator: a request allocates and frees many small
/// buffers on several threads (tokio's, each SQLite connection's), where glibc's malloc
/// spent a sixth of the API's CPU time in `bench/run`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::telemetry::init();
    server::cli::run().await
}
