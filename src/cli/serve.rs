//! `session-gateway serve`: loads settings, starts the gateway (API, webhooks and, unless
//! `network.enabled = false`, the actors on the Session network), prints one JSON line to stdout
//! when ready (`{"api":"http://ADDR","devnet_seed":null}`), then logs to stderr until Ctrl-C or
//! SIGTERM.
//!
//! `serve --devnet` first starts an in-process devnet and points the network client at its
//! seed and file server; missing admin and master keys are generated into the data directory
//! (files `admin_key` and `master_key`, mode 0600) and the admin key's path is printed in the
//! ready line: `{"api":…,"devnet_seed":URL,"admin_key_file":PATH}`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rand::RngCore as _;

use crate::app::{Gateway, GatewayOptions};
use crate::config::{SecretString, Settings};
use crate::devnet::{Devnet, DevnetConfig};
use crate::identities::{IdentityProvider, SessionIdentities};
use crate::network::{NetworkConfig, SessionNetwork};

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
    /// Start an in-process devnet on 127.0.0.1 and use it as the Session network.
    #[arg(long)]
    pub devnet: bool,
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
    let mut settings = Settings::load(args.config.as_deref())?;
    let mut ready = serde_json::json!({ "devnet_seed": null });
    let devnet = if args.devnet {
        let devnet = Devnet::start(DevnetConfig::default()).await?;
        std::fs::create_dir_all(&args.data_dir)?;
        if settings.api.admin_key.is_none() {
            let (key, path) = key_file(&args.data_dir, "admin_key")?;
            settings.api.admin_key = Some(SecretString::new(key));
            ready["admin_key_file"] = path.display().to_string().into();
        }
        if settings.security.master_key.is_none() {
            let (key, _) = key_file(&args.data_dir, "master_key")?;
            settings.security.master_key = Some(SecretString::new(key));
        }
        ready["devnet_seed"] = devnet.seed_url().into();
        Some(devnet)
    } else {
        None
    };
    let network = match &devnet {
        Some(d) => Some(NetworkConfig::for_network(
            d.seed_url(),
            d.file_server_url(),
            &d.file_server_x25519(),
        )),
        None if settings.network.enabled => Some(NetworkConfig {
            seeds: settings.network.seeds.clone(),
            ..NetworkConfig::default()
        }),
        None => None,
    }
    .map(|mut config| {
        config.request_timeout_ms = settings.network.request_timeout_ms;
        SessionNetwork::new(config)
    })
    .transpose()?;
    let options = GatewayOptions {
        settings,
        data_dir: args.data_dir,
        listen: args.listen,
        identities,
    };
    let gateway = match network {
        Some(network) => Gateway::start_with_network(options, network).await?,
        None => {
            tracing::warn!("network.enabled = false: messages stay queued, nothing is polled");
            Gateway::start(options).await?
        }
    };
    ready["api"] = gateway.base_url().into();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}")?;
    stdout.flush()?;
    drop(stdout);
    tracing::info!(api = %gateway.base_url(), "session-gateway ready");
    shutdown_signal().await;
    tracing::info!("shutting down");
    gateway.stop().await;
    if let Some(devnet) = devnet {
        devnet.shutdown().await;
    }
    Ok(())
}

/// Reads `dir/name`, or writes a fresh random key there (base64 of 32 bytes, owner-only).
fn key_file(dir: &Path, name: &str) -> anyhow::Result<(String, PathBuf)> {
    let path = dir.join(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok((existing.trim().to_owned(), path));
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    file.write_all(key.as_bytes())?;
    Ok((key, path))
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
