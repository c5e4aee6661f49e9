//! The `attest` command line (SPEC §9): `serve` (default), `worker`, `migrate` and the
//! operator's `admin` commands, which work on the same database as a running server.

mod admin;
mod backup;
mod copy;
mod demo;
mod migrate_blobs;
mod rotate;

use crate::{
    config::{Config, FlagConfig},
    startup,
};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "attest", version, about = "Attest identity verification: dashboard, REST API and workers")]
pub struct Cli {
    /// Optional TOML configuration file (lowest precedence after defaults).
    #[arg(long, global = true, env = "ATTEST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, global = true, env = "ATTEST_ADDR", value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// Directory for the SQLite database, documents and the local mail outbox.
    #[arg(long, global = true, env = "ATTEST_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard, the API and the in-process workers (the default).
    Serve {
        /// The web tier only: no job workers in this process (same as ATTEST_WORKERS=false).
        #[arg(long)]
        no_workers: bool,
    },
    /// Run background workers only (for scaled-out deployments).
    Worker {
        /// Verifications processed at once (default: one per CPU core).
        #[arg(long, env = "ATTEST_WORKER_CONCURRENCY", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: Option<u16>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Operator commands.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
}

impl Cli {
    fn flags(&self) -> FlagConfig {
        FlagConfig { config_file: self.config.clone(), addr: self.addr.clone(), data_dir: self.data_dir.clone() }
    }
}

/// Parses the command line and runs it; the exit code follows the outcome.
pub async fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.flags()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("attest: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match execute(cli.command.unwrap_or(Command::Serve { no_workers: false }), config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("attest: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { no_workers } => {
            config.in_process_workers &= !no_workers;
            let db = startup::open_database(&config).await?;
            let listener = tokio::net::TcpListener::bind(config.addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {} (ATTEST_ADDR / --addr): {e}", config.addr))?;
            tracing::info!(
                addr = %listener.local_addr()?,
                environment = %config.environment,
                engine = ?db.engine(),
                workers = config.in_process_workers,
                "attest serving"
            );
            let state = startup::app_state(&config, db)?;
            startup::serve_configured(listener, state, &config, startup::shutdown_signal()).await
        }
        Command::Worker { concurrency } => {
            let db = startup::open_database(&config).await?;
            let options = crate::worker::Options { pipeline_slots: concurrency.map(usize::from) };
            tracing::info!(engine = ?db.engine(), pipeline_slots = options.slots(), "attest worker started");
            let state = startup::app_state(&config, db)?;
            tokio::select! {
                _ = crate::worker::run_with(state, options) => {},
                _ = startup::shutdown_signal() => {},
            }
            Ok(())
        }
        Command::Migrate => {
            startup::open_database(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin(command) => admin::run(command, &config).await,
    }
}
