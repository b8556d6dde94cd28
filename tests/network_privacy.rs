//! The privacy guarantee (design.md §2, the seed's threat model) read off the devnet's route
//! logs: every request naming an account reached its node as an onion final destination
//! through a relay, and the only direct requests are `info` (guard tests) naming no account.

#![allow(clippy::unwrap_used)] // tests may unwrap, helpers included

mod netsupport;

use netsupport::*;
use session_gateway::devnet::Arrival;
use session_gateway::network::OnionCipher;
use session_gateway::protocol::storage::{Namespace, Signer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_only_named_through_onion_relays() {
    let dn = devnet(12, 4).await;
    let net = network(&dn, OnionCipher::AesGcm);
    for _ in 0..3 {
        let me = identity();
        let acct = account(&me);
        let signer = Signer::Account(me.signing_key());
        let stored = net
            .store(&acct, Namespace(0), b"hi", 60_000, None)
            .await
            .unwrap();
        net.store(&acct, Namespace(2), b"cfg", 60_000, Some(&signer))
            .await
            .unwrap();
        net.retrieve(
            &acct,
            &signer,
            &[(Namespace(0), None), (Namespace(2), None)],
        )
        .await
        .unwrap();
        net.delete(&acct, &signer, vec![stored.hash]).await.unwrap();
    }
    net.info().await.unwrap();

    let mut direct = 0;
    let mut onion_named = 0;
    for node in dn.nodes() {
        for entry in dn.routes(node.index) {
            match &entry.arrival {
                Arrival::Direct { .. } => {
                    direct += 1;
                    assert_eq!(
                        entry.method, "info",
                        "direct request other than info: {entry:?}"
                    );
                    assert!(
                        entry.pubkeys.is_empty(),
                        "direct request named an account: {entry:?}"
                    );
                }
                Arrival::Onion { relay, .. } => {
                    assert!(
                        relay.is_some(),
                        "onion request sent straight to its destination: {entry:?}"
                    );
                    if !entry.pubkeys.is_empty() {
                        onion_named += 1;
                    }
                }
            }
        }
    }
    assert!(direct >= 2, "guards were tested directly");
    // 3 accounts × (2 stores, ≥1 retrieve, delete), the retrieves from two members each (the
    // swarms come from the pool: no get_swarm).
    assert!(
        onion_named >= 15,
        "only {onion_named} account requests logged"
    );
    dn.shutdown().await;
}
