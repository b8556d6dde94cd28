//! `session-gateway serve`: loads settings, starts the gateway, prints one JSON line to stdout
//! when ready (`{"api":"http://ADDR","devnet_seed":null}`), then logs to stderr until Ctrl-C or
//! SIGTERM.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use crate::app::{Gateway, GatewayOptions};
use crate::config::Settings;
use crate::identities::{IdentityProvider, SessionIdentities};

/// `serve` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// TOML settings file (environment variables SESSION_GATEWAY__SECTION__KEY override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address the REST API listens on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Directory for the SQLite database and generated files.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

/// The `serve` entry point for `main`: logging to stderr, a tokio runtime, the real identities.
pub fn main(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args, Arc::new(SessionIdentities)))
}

/// Logs go to stderr (stdout carries only the ready line); `RUST_LOG` filters, default `info`;
/// `SESSION_GATEWAY_LOG_FORMAT=json` switches to JSON lines for containers.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let result = if std::env::var("SESSION_GATEWAY_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A subscriber already installed (tests) is fine.
    drop(result);
}

/// Runs the gateway until interrupted.
pub async fn run(args: ServeArgs, identities: Arc<dyn IdentityProvider>) -> anyhow::Result<()> {
    let settings = Settings::load(args.config.as_deref())?;
    let gateway = Gateway::start(GatewayOptions {
        settings,
        data_dir: args.data_dir,
        listen: args.listen,
        identities,
    })
    .await?;
    let ready = serde_json::json!({ "api": gateway.base_url(), "devnet_seed": null });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}")?;
    stdout.flush()?;
    drop(stdout);
    tracing::info!(api = %gateway.base_url(), "session-gateway ready");
    shutdown_signal().await;
    tracing::info!("shutting down");
    gateway.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
