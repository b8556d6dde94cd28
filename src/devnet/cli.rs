//! `session-gateway devnet`: start a devnet, print one JSON line, run until SIGINT/SIGTERM.

use super::config::{parse_fault_spec, DevnetConfig};
use super::Devnet;

/// Arguments of `session-gateway devnet`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevnetArgs {
    /// Number of service nodes.
    #[arg(long, default_value_t = 12)]
    pub nodes: usize,
    /// Nodes per swarm.
    #[arg(long, default_value_t = 4)]
    pub swarm_size: usize,
    /// Seed port (0 or absent: ephemeral).
    #[arg(long)]
    pub seed_port: Option<u16>,
    /// Faults, e.g. `0:drop=0.5,delay_ms=200;3:refuse_store` (see README).
    #[arg(long)]
    pub faults: Option<String>,
    /// Serve the seed over HTTPS with an untrusted self-signed certificate (an impersonated
    /// seed: a gateway must refuse it).
    #[arg(long)]
    pub seed_tls: bool,
}

/// Runs the devnet until a signal arrives.
pub async fn run(args: DevnetArgs) -> anyhow::Result<()> {
    let faults = match &args.faults {
        Some(spec) => parse_fault_spec(spec, args.nodes)?,
        None => Vec::new(),
    };
    let config = DevnetConfig {
        nodes: args.nodes,
        swarm_size: args.swarm_size,
        seed_port: args.seed_port,
        faults,
        seed_tls: args.seed_tls,
        ..DevnetConfig::default()
    };
    let devnet = Devnet::start(config).await?;
    println!("{}", devnet.summary());
    wait_for_signal().await?;
    devnet.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
