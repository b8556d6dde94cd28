//! Issue 13, the network layer attacked (attacks 1, 2, 5 and 6): each test mounts one attack
//! with a devnet fault and checks the client does not fall for it.

#![allow(clippy::unwrap_used)] // tests may unwrap, helpers included

mod netsupport;

use netsupport::*;
use session_gateway::devnet::{Devnet, DevnetConfig};
use session_gateway::network::{OnionCipher, SessionNetwork};
use session_gateway::protocol::onion::SnodeEd25519;
use session_gateway::protocol::storage::{Namespace, Signer};

const TTL: u64 = 3_600_000;

/// Attack 2: every node lies about swarms (right swarm id, another swarm's members) and
/// "confirms" stores sent to it for accounts it does not serve. A store must still land on the
/// account's real swarm, and count only signatures of real members. With swarms of four the
/// client takes the swarm from its pool's swarm ids (network.md §3.2) and never asks, so no lie
/// is told; with swarms of two (fewer than the three members a prediction needs) it asks
/// `get_swarm`, gets lies, and must refuse every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_swarm_answers_do_not_redirect_stores() {
    let lies = stores_land_on_the_real_swarm(12, 4).await;
    assert_eq!(lies, 0, "a predicted swarm is not looked up");
    let lies = stores_land_on_the_real_swarm(8, 2).await;
    assert!(lies > 0, "the lookups were answered with lies");
}

/// Three stores for one fresh account on a devnet of `nodes` whose every node lies about
/// swarms; the lies told.
async fn stores_land_on_the_real_swarm(nodes: usize, swarm_size: usize) -> u64 {
    let dn = devnet(nodes, swarm_size).await;
    for i in 0..nodes {
        dn.set_faults(i, fault(|f| f.lie_swarm = true));
    }
    let net = network(&dn, OnionCipher::AesGcm);
    let me = identity();
    let acct = account(&me);
    let swarm = swarm_indexes(&dn, &acct);
    let devnet_nodes = dn.nodes();
    let members: Vec<SnodeEd25519> = swarm
        .iter()
        .map(|i| SnodeEd25519::from_bytes(devnet_nodes[*i].ed25519))
        .collect();
    for round in 0..3 {
        let data = format!("round {round}").into_bytes();
        let stored = net
            .store(&acct, Namespace(0), &data, TTL, None)
            .await
            .unwrap_or_else(|e| panic!("store {round}: {e}"));
        assert!(
            stored.confirmed_by.iter().all(|ed| members.contains(ed)),
            "round {round}: store confirmed by nodes outside the swarm: {:?}",
            stored.confirmed_by
        );
        let account = session_gateway::devnet::rpc::params::Account(acct.to_bytes());
        let now = dn.network().clock.now_ms();
        let held = swarm
            .iter()
            .filter(|i| {
                dn.network().nodes[**i]
                    .store()
                    .get(&account, stored.hash.as_str(), now)
                    .is_some()
            })
            .count();
        assert!(held > 0, "round {round}: no real member holds the message");
    }
    let cached = net.cached_swarm(&acct);
    let hex: Vec<String> = members.iter().map(SnodeEd25519::to_hex).collect();
    assert!(
        !cached.is_empty() && cached.iter().all(|c| hex.contains(c)),
        "cached swarm {cached:?} is not the real one"
    );
    let lies = (0..nodes).map(|i| dn.faults_fired(i)).sum();
    dn.shutdown().await;
    lies
}

/// Attack 5: every node answers with 48 MiB streamed without a Content-Length. The client
/// must stop reading early (a guard test reads a few KiB at most), not buffer it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_replies_are_not_read_to_the_end() {
    let dn = devnet(12, 4).await;
    for i in 0..12 {
        dn.set_faults(i, fault(|f| f.huge_reply = true));
    }
    let net = network(&dn, OnionCipher::AesGcm);
    assert!(net.bootstrap().await.is_err(), "no guard can pass its test");
    let largest = dn
        .network()
        .nodes
        .iter()
        .map(|n| n.huge_reply_max())
        .max()
        .unwrap();
    assert!(largest > 0, "the fault was exercised");
    assert!(
        largest < 16 * 1024 * 1024,
        "a peer got {largest} bytes of one answer read"
    );
    dn.shutdown().await;
}

/// Attack 6 (clock): on a running client, two of the account's four members start running an
/// hour ahead and refusing honest timestamps. A refusal must not pull the client's clock to
/// the liar's: the offset comes from the median of several nodes, so it stays near the honest
/// network's after every call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_clock_does_not_move_ours() {
    let dn = devnet(12, 4).await;
    let me = identity();
    let acct = account(&me);
    let signer = Signer::Account(me.signing_key());
    let net = network(&dn, OnionCipher::AesGcm);
    // A running client: its clock has samples of several honest nodes.
    net.bootstrap().await.unwrap();
    for _ in 0..4 {
        net.info().await.unwrap();
    }
    for i in swarm_indexes(&dn, &acct).iter().take(2) {
        dn.set_faults(*i, fault(|f| f.clock_lie = true));
    }
    for round in 0..12 {
        net.retrieve(&acct, &signer, &[(Namespace(0), None)])
            .await
            .unwrap_or_else(|e| panic!("retrieve {round}: {e}"));
        let offset = net.clock_offset_ms();
        assert!(
            offset.abs() < 10_000,
            "round {round}: clock offset {offset} ms follows a lying node"
        );
    }
    dn.shutdown().await;
}

/// Attack 6 (unauthenticated errors): a third of the nodes answer every relay hop with a
/// plain-text `Next node not found` naming an honest node. Plain text from some hop proves
/// nothing about the node it names (nor about the guard that passed it on): no honest node
/// may leave the pool over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_lies_do_not_drop_honest_nodes() {
    let dn = devnet(12, 4).await;
    let liars = [0usize, 4, 8, 11];
    for i in liars {
        dn.set_faults(i, fault(|f| f.next_node_not_found = true));
    }
    let honest: Vec<SnodeEd25519> = dn
        .nodes()
        .iter()
        .filter(|n| !liars.contains(&n.index))
        .map(|n| SnodeEd25519::from_bytes(n.ed25519))
        .collect();
    let mut config = config(&dn, OnionCipher::AesGcm);
    config.max_attempts = 3;
    let net = SessionNetwork::new(config).unwrap();
    for call in 0..10 {
        // Calls may fail (most paths cross a liar); what matters is whom the client blames.
        let _ = net.info().await;
        let pool: Vec<SnodeEd25519> = net.pool().iter().map(|n| n.ed25519).collect();
        let gone: Vec<_> = honest.iter().filter(|h| !pool.contains(h)).collect();
        assert!(
            gone.is_empty(),
            "call {call}: honest nodes dropped: {gone:?}"
        );
    }
    dn.shutdown().await;
}

/// Attack 1: a seed answering over TLS with a certificate no authority signed (anyone on the
/// path could present one) is not believed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_with_an_untrusted_certificate_is_refused() {
    let dn = Devnet::start(DevnetConfig {
        seed_tls: true,
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    assert!(dn.seed_url().starts_with("https://"));
    let mut config = config(&dn, OnionCipher::AesGcm);
    config.seed_retries = 0;
    let net = SessionNetwork::new(config).unwrap();
    let err = net.bootstrap().await;
    assert!(err.is_err(), "bootstrapped from an impersonated seed");
    assert_eq!(net.stats().pool_size, 0);
    dn.shutdown().await;
}
