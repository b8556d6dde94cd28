//! A gateway holding many accounts, for the capacity benches: settings with a fresh master
//! key, N accounts written straight into the store (no REST, no key generation on the API
//! path), and the gateway started against an in-process devnet.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use rand::RngCore as _;
use session_gateway::app::{Gateway, GatewayOptions};
use session_gateway::config::{SecretString, Settings};
use session_gateway::devnet::Devnet;
use session_gateway::identities::{IdentityProvider as _, SessionIdentities};
use session_gateway::network::{NetworkConfig, SessionNetwork};
use session_gateway::store::{MasterKey, Store};

/// Default settings with `admin` as the admin key, a fresh master key and `poll_ms` as the
/// active poll interval; also the master key (base64).
pub fn settings(admin: &str, poll_ms: u64) -> (Settings, String) {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let master = base64::engine::general_purpose::STANDARD.encode(key);
    let mut settings = Settings::default();
    settings.api.admin_key = Some(SecretString::new(admin.into()));
    settings.security.master_key = Some(SecretString::new(master.clone()));
    settings.polling.active_interval_ms = poll_ms;
    (settings, master)
}

/// Writes `accounts` fresh accounts into the database `settings` names in `dir`; their
/// Session IDs.
pub async fn fill(settings: &Settings, dir: &Path, master: &str, accounts: usize) -> Vec<String> {
    let url = settings.database_url(dir);
    let store = Store::open(&url, 1, MasterKey::from_base64(master).unwrap())
        .await
        .unwrap();
    let mut ids = Vec::with_capacity(accounts);
    for _ in 0..accounts {
        let identity = SessionIdentities.generate().unwrap();
        store
            .insert_account(&identity.session_id, None, &identity.seed, 0)
            .await
            .unwrap();
        ids.push(identity.session_id.as_str().to_owned());
    }
    store.close().await;
    ids
}

/// The devnet's network config with `timeout_ms` per onion request.
pub fn network(devnet: &Devnet, timeout_ms: u64) -> NetworkConfig {
    let mut config = NetworkConfig::for_network(
        devnet.seed_url(),
        devnet.file_server_url(),
        &devnet.file_server_x25519(),
    );
    config.request_timeout_ms = timeout_ms;
    config
}

/// Starts the gateway on port 0 with its data in `dir`, against `config`.
pub async fn start(settings: Settings, dir: &Path, config: NetworkConfig) -> Gateway {
    Gateway::start_with_network(
        GatewayOptions {
            settings,
            data_dir: dir.to_path_buf(),
            listen: "127.0.0.1:0".into(),
            identities: Arc::new(SessionIdentities),
        },
        SessionNetwork::new(config).unwrap(),
    )
    .await
    .unwrap()
}
