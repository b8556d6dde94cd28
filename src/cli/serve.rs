//! `session-gateway serve`: loads settings, starts the gateway (with the actors on the Session
//! network unless `network.enabled = false`), prints one JSON line to stdout
//! when ready (`{"api":"http://ADDR","devnet_seed":null}`), then logs to stderr until Ctrl-C or
//! SIGTERM.
//!
//! `serve --devnet` first starts an in-process devnet, points `network.seeds` at it and reports
//! its seed URL and its community server (`community`: base URL, key, default room's join URL)
//! in the ready line. It needs no keys: a missing `api.admin_key` or
//! `security.master_key` is generated once into the data directory (`admin_key`, `master_key`,
//! mode 0600), reused on the next start, and where it is is logged (and, for the admin key,
//! printed as `admin_key_file` in the ready line). Without `--devnet` missing
//! keys are an error: a production gateway never invents its own master key.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::app::{Gateway, GatewayOptions};
use crate::config::{PathIsolationSetting, SecretString, Settings};
use crate::devnet::config::DevnetConfig;
use crate::devnet::Devnet;
use crate::identities::{IdentityProvider, SessionIdentities};
use crate::network::{FileServerConfig, NetworkConfig, PathIsolation, SessionNetwork};
use crate::store::MasterKey;

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
    /// Start an in-process devnet and use it as the network (keys are generated if missing).
    #[arg(long)]
    pub devnet: bool,
}

/// The `serve` entry point for `main`: logs (and traces, if configured), a tokio runtime, the
/// real identities.
pub fn main(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::load(args.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Logs go to stderr (stdout carries only the ready line). Dropped after the gateway
    // stopped: the last spans are exported then.
    let telemetry = crate::telemetry::init(&settings, runtime.handle().clone())?;
    let result = runtime.block_on(run(args, Arc::new(SessionIdentities)));
    drop(telemetry);
    result
}

/// Runs the gateway until interrupted.
pub async fn run(args: ServeArgs, identities: Arc<dyn IdentityProvider>) -> anyhow::Result<()> {
    let mut settings = Settings::load(args.config.as_deref())?;
    let mut admin_key_file = None;
    let devnet = if args.devnet {
        let devnet = Devnet::start(DevnetConfig::default()).await?;
        settings.network.seeds = vec![devnet.seed_url().to_owned()];
        // A devnet is a local playground: webhook receivers on loopback are the norm there.
        settings.webhooks.deny_private.get_or_insert(false);
        std::fs::create_dir_all(&args.data_dir)?;
        if settings.api.admin_key.is_none() {
            let (key, path) = key_file(&args.data_dir, "admin_key", generate_admin_key)?;
            tracing::info!(path = %path.display(), "devnet: api.admin_key read from the data directory");
            settings.api.admin_key = Some(SecretString::new(key.to_string()));
            admin_key_file = Some(path.display().to_string());
        }
        if settings.security.master_key.is_none() {
            let generate = || MasterKey::generate().to_base64();
            let (key, path) = key_file(&args.data_dir, "master_key", generate)?;
            tracing::info!(path = %path.display(), "devnet: security.master_key read from the data directory");
            settings.security.master_key = Some(SecretString::new(key.to_string()));
        }
        Some(devnet)
    } else {
        None
    };
    let network = match &devnet {
        // The devnet's file server too, not only its seed.
        Some(d) => Some(NetworkConfig::for_network(
            d.seed_url(),
            d.file_server_url(),
            &d.file_server_x25519(),
        )),
        None if settings.network.enabled => Some(NetworkConfig {
            seeds: settings.network.seeds.clone(),
            file_server: {
                let mainnet = FileServerConfig::default();
                FileServerConfig {
                    url: settings
                        .network
                        .file_server_url
                        .clone()
                        .unwrap_or(mainnet.url),
                    x25519: (settings.network.file_server_x25519.clone()).unwrap_or(mainnet.x25519),
                }
            },
            ..NetworkConfig::default()
        }),
        None => None,
    }
    .map(|mut config| {
        config.request_timeout_ms = settings.network.request_timeout_ms;
        config.allow_insecure_seeds = settings.network.allow_insecure_seeds;
        config.path_max_age_ms = settings.network.path_max_age_ms;
        config.path_isolation = match settings.network.path_isolation {
            PathIsolationSetting::Shared => PathIsolation::Shared,
            PathIsolationSetting::PerAccount => PathIsolation::PerAccount,
        };
        config.batch_window_ms = settings.network.batch_window_ms;
        config.store_window_ms = settings.network.store_window_ms;
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
    let seed = devnet.as_ref().map(|d| d.seed_url().to_owned());
    let mut ready = serde_json::json!({ "api": gateway.base_url(), "devnet_seed": seed });
    if let Some(path) = admin_key_file {
        ready["admin_key_file"] = path.into();
    }
    if let Some(d) = &devnet {
        ready["devnet_control"] = d.control_url().into();
        ready["community"] = d.community_summary();
        ready["file_server"] = serde_json::json!({
            "url": d.file_server_url(),
            "pubkey_x25519": hex::encode(d.file_server_x25519()),
        });
    }
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

fn generate_admin_key() -> Zeroizing<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Zeroizing::new(hex::encode(bytes))
}

/// Reads `DIR/name`, or creates it (mode 0600) with `generate()`. Returns the key and the path.
fn key_file(
    dir: &Path,
    name: &str,
    generate: impl FnOnce() -> Zeroizing<String>,
) -> std::io::Result<(Zeroizing<String>, PathBuf)> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok((Zeroizing::new(text.trim().to_owned()), path)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let key = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    writeln!(file, "{}", key.as_str())?;
    file.sync_all()?;
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
