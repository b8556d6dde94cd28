//! The `session-gateway` binary.

use clap::{Parser, Subcommand};

/// Run many Session accounts as infrastructure.
#[derive(Debug, Parser)]
#[command(name = "session-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a local Session network (seed, service nodes, file server) on 127.0.0.1.
    Devnet(session_gateway::devnet::cli::DevnetArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Devnet(args) => session_gateway::devnet::cli::run(args).await,
    }
}
