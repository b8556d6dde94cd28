//! [`NetworkConfig`]: where the network client bootstraps from and how patient it is. The
//! gateway's configuration embeds it; every field has a mainnet default.

use serde::{Deserialize, Serialize};

use crate::protocol::onion::EncType;

/// Session Desktop's mainnet seeds (`network.md` §2.1, SD `preload.js`).
pub const MAINNET_SEEDS: [&str; 3] = [
    "https://seed1.getsession.org:4443/",
    "https://seed2.getsession.org:4443/",
    "https://seed3.getsession.org:4443/",
];

/// The default file server (`messages.md` §5.1). `network.md` §2.1 quotes another X25519 key
/// (`da21e1d8…`, from libsession's `libquic` branch); the brief names messages.md as the source.
pub const MAINNET_FILE_SERVER_URL: &str = "http://filev2.getsession.org";
/// X25519 key of [`MAINNET_FILE_SERVER_URL`] (`messages.md` §5.1).
pub const MAINNET_FILE_SERVER_X25519: &str =
    "09324794aa9c11948189762d198c618148e9136ac9582068180661208927ef34";

/// The onion cipher for every layer (`network.md` §5.1). Desktop uses AES-GCM, libsession
/// XChaCha20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnionCipher {
    /// `aes-gcm` (Session Desktop's choice).
    #[default]
    AesGcm,
    /// `xchacha20` (libsession's choice).
    Xchacha20,
}

impl From<OnionCipher> for EncType {
    fn from(c: OnionCipher) -> Self {
        match c {
            OnionCipher::AesGcm => EncType::AesGcm,
            OnionCipher::Xchacha20 => EncType::XChaCha20,
        }
    }
}

/// Which requests share an onion path (issue 13, attack 7; issue 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathIsolation {
    /// Every account's requests use the shared paths (as one Session client's do), and polls
    /// of accounts in the same swarm ride in one request: cheapest, but a node on a path (or
    /// the destination of a batch) can tell that those accounts are polled from one place.
    #[default]
    Shared,
    /// Each account's requests use a path of its own (relays no other account's path uses
    /// while the pool allows) and are never batched with another account's: a node sees no
    /// two accounts arrive together. Costs one onion request per account and poll, and a path
    /// per account.
    PerAccount,
}

/// The file server reached by onion requests v4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServerConfig {
    /// Base URL, `http[s]://host[:port]` (the devnet prints its own).
    pub url: String,
    /// The server's X25519 public key, 64 hex digits.
    pub x25519: String,
}

impl Default for FileServerConfig {
    fn default() -> Self {
        Self {
            url: MAINNET_FILE_SERVER_URL.to_owned(),
            x25519: MAINNET_FILE_SERVER_X25519.to_owned(),
        }
    }
}

/// Network client settings. Defaults follow Session Desktop (`network.md` §2.3, §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Seed URLs: `https://host:port/` (the client posts to `…/json_rpc`) or a URL that
    /// already ends in `/json_rpc`.
    pub seeds: Vec<String>,
    /// The file server.
    pub file_server: FileServerConfig,
    /// Timeout of one onion request or direct guard test, ms (SD: 10 s).
    pub request_timeout_ms: u64,
    /// Timeout of one seed query, ms (SD: 5 s).
    pub seed_timeout_ms: u64,
    /// Retries of a whole seed round after the first (SD: 3, so 4 rounds).
    pub seed_retries: u32,
    /// First back-off between seed rounds, ms; doubles each round (SD: 1000 ms, factor 2).
    pub seed_backoff_ms: u64,
    /// Onion cipher.
    pub enc_type: OnionCipher,
    /// Onion paths to keep (SD: 2, one per guard).
    pub path_count: usize,
    /// A path's relays are replaced (its guard kept) once it is this old, ms (default 10
    /// minutes, Tor's circuit lifetime; 0 = never).
    pub path_max_age_ms: u64,
    /// Which requests share a path.
    pub path_isolation: PathIsolation,
    /// How long a retrieve waits for others bound for the same node to share its onion
    /// request, ms (default 100; 0 = never batch). Off under [`PathIsolation::PerAccount`].
    pub batch_window_ms: u64,
    /// How long a store waits for others bound for the same node to share its onion request,
    /// ms (default 25; 0 = never). Off under [`PathIsolation::PerAccount`].
    pub store_window_ms: u64,
    /// Refresh from the seeds when the pool has this many nodes or fewer (SD: 8).
    pub min_pool_size: usize,
    /// Refresh the pool when it is older than this, ms (libsession: 2 h).
    pub pool_max_age_ms: u64,
    /// Refresh from 3 pool nodes (onion `oxend_request`, intersection) instead of a seed when
    /// the pool is large enough (SD: off below 16 nodes; a daily refresh).
    pub refresh_from_snodes: bool,
    /// Attempts per store/retrieve/delete across swarm members and paths.
    pub max_attempts: u32,
    /// The largest clock offset from the network ever adopted, ms (default a day): a node
    /// claiming a time further off is ignored (issue 13, attack 6).
    pub max_clock_offset_ms: u64,
    /// Accept plain `http://` seeds that are not on loopback (default false). A seed answer
    /// picks every node this client talks to, so it is read over verified TLS; only a
    /// loopback seed (a devnet) may skip TLS unless this is set (issue 13, attack 1).
    pub allow_insecure_seeds: bool,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            seeds: MAINNET_SEEDS.iter().map(|s| (*s).to_owned()).collect(),
            file_server: FileServerConfig::default(),
            request_timeout_ms: 10_000,
            seed_timeout_ms: 5_000,
            seed_retries: 3,
            seed_backoff_ms: 1_000,
            enc_type: OnionCipher::AesGcm,
            path_count: 2,
            path_max_age_ms: 10 * 60 * 1000,
            path_isolation: PathIsolation::Shared,
            batch_window_ms: 100,
            store_window_ms: 25,
            min_pool_size: 8,
            pool_max_age_ms: 2 * 3600 * 1000,
            refresh_from_snodes: false,
            max_attempts: 4,
            max_clock_offset_ms: crate::network::clock::DEFAULT_MAX_OFFSET_MS,
            allow_insecure_seeds: false,
        }
    }
}

/// The clock bound on a devnet, ms: tests move a devnet's clock forward by weeks (expiry
/// without sleeping), which a gateway on it must follow.
pub const DEVNET_MAX_CLOCK_OFFSET_MS: u64 = 400 * 24 * 3600 * 1000;

impl NetworkConfig {
    /// A configuration for a devnet (or any other network): its seed and file server, a clock
    /// bound of [`DEVNET_MAX_CLOCK_OFFSET_MS`], and the other defaults.
    pub fn for_network(
        seed_url: &str,
        file_server_url: &str,
        file_server_x25519: &[u8; 32],
    ) -> Self {
        Self {
            seeds: vec![seed_url.to_owned()],
            file_server: FileServerConfig {
                url: file_server_url.to_owned(),
                x25519: hex::encode(file_server_x25519),
            },
            max_clock_offset_ms: DEVNET_MAX_CLOCK_OFFSET_MS,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_reject_unknown_fields() {
        let c = NetworkConfig::default();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<NetworkConfig>(&json).unwrap(), c);
        assert!(json.contains("\"enc_type\":\"aes-gcm\""));
        let partial: NetworkConfig =
            serde_json::from_str(r#"{"enc_type":"xchacha20","path_count":3}"#).unwrap();
        assert_eq!(partial.path_count, 3);
        assert_eq!(EncType::from(partial.enc_type), EncType::XChaCha20);
        assert_eq!(partial.seeds.len(), 3);
        assert!(serde_json::from_str::<NetworkConfig>(r#"{"sedes":[]}"#).is_err());
    }
}
