#![forbid(unsafe_code)]
//! `attest`: see `server::cli` for the commands.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::telemetry::init();
    server::cli::run().await
}
