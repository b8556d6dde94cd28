//! Shared setup for the `network_*` integration tests: an in-process devnet on ephemeral
//! ports and a `SessionNetwork` configured for it with short timeouts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use session_gateway::devnet::{Devnet, DevnetConfig, Faults};
use session_gateway::network::{NetworkConfig, OnionCipher, SessionNetwork};
use session_gateway::protocol::keys::Identity;
use session_gateway::protocol::storage::AccountId;

/// A devnet with `nodes` nodes in swarms of `swarm_size`.
pub async fn devnet(nodes: usize, swarm_size: usize) -> Devnet {
    Devnet::start(DevnetConfig {
        nodes,
        swarm_size,
        ..DevnetConfig::default()
    })
    .await
    .unwrap()
}

/// A client config for `devnet`: its seed and file server, 3 s request timeouts (a dropped
/// request costs a timeout), fast seed back-off.
pub fn config(devnet: &Devnet, enc: OnionCipher) -> NetworkConfig {
    let mut c = NetworkConfig::for_network(
        devnet.seed_url(),
        devnet.file_server_url(),
        &devnet.file_server_x25519(),
    );
    c.request_timeout_ms = 3_000;
    c.seed_timeout_ms = 3_000;
    c.seed_backoff_ms = 50;
    c.enc_type = enc;
    c
}

pub fn network(devnet: &Devnet, enc: OnionCipher) -> SessionNetwork {
    SessionNetwork::new(config(devnet, enc)).unwrap()
}

pub fn identity() -> Identity {
    Identity::generate(&mut rand::rngs::OsRng)
}

pub fn account(id: &Identity) -> AccountId {
    AccountId::from_bytes(&id.session_id().to_bytes())
}

/// Two fresh identities whose accounts share one swarm, and that swarm's devnet node indexes
/// (so faults on its members hit both accounts).
pub fn two_in_one_swarm(devnet: &Devnet) -> (Identity, Identity, Vec<usize>) {
    let a = identity();
    let swarm = swarm_indexes(devnet, &account(&a));
    loop {
        let b = identity();
        if swarm_indexes(devnet, &account(&b)) == swarm {
            return (a, b, swarm);
        }
    }
}

/// Devnet node indexes of the account's swarm (read from the devnet, not the client).
pub fn swarm_indexes(devnet: &Devnet, account: &AccountId) -> Vec<usize> {
    let nodes = devnet.nodes();
    let mut ids: Vec<u64> = nodes.iter().map(|n| n.swarm_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let ids: Vec<_> = ids
        .into_iter()
        .map(session_gateway::protocol::swarm::SwarmId)
        .collect();
    let swarm =
        session_gateway::protocol::swarm::closest_swarm(account.swarm_space(), &ids).unwrap();
    nodes
        .iter()
        .filter(|n| n.swarm_id == swarm.0)
        .map(|n| n.index)
        .collect()
}

pub fn fault(f: impl FnOnce(&mut Faults)) -> Faults {
    let mut faults = Faults::default();
    f(&mut faults);
    faults
}
