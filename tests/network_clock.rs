//! The clock offset: adopted from the `t` of node answers, used for every signature
//! timestamp, and resynchronised after a 406 when the network clock moves.

#![allow(clippy::unwrap_used)] // tests may unwrap, helpers included

mod netsupport;

use netsupport::*;
use session_gateway::network::OnionCipher;
use session_gateway::protocol::storage::{Namespace, Signer};

const FIVE_MIN: i64 = 5 * 60 * 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_is_adopted_from_node_time() {
    let dn = devnet(12, 4).await;
    // The network runs five minutes ahead of us: unadjusted signatures would be 406.
    dn.advance_clock(FIVE_MIN);
    let net = network(&dn, OnionCipher::AesGcm);
    net.bootstrap().await.unwrap();
    let offset = net.clock_offset_ms();
    assert!((offset + FIVE_MIN).abs() < 5_000, "offset {offset}");

    let me = identity();
    let acct = account(&me);
    let signer = Signer::Account(me.signing_key());
    net.store(
        &acct,
        Namespace(2),
        b"cfg",
        30 * 24 * 3600 * 1000,
        Some(&signer),
    )
    .await
    .unwrap();
    let got = net
        .retrieve(&acct, &signer, &[(Namespace(2), None)])
        .await
        .unwrap();
    assert_eq!(got[0].messages.len(), 1);

    // The network jumps again; the first signed request meets a 406, resyncs and retries.
    dn.advance_clock(FIVE_MIN);
    net.store(
        &acct,
        Namespace(2),
        b"cfg 2",
        30 * 24 * 3600 * 1000,
        Some(&signer),
    )
    .await
    .unwrap();
    let offset = net.clock_offset_ms();
    assert!((offset + 2 * FIVE_MIN).abs() < 5_000, "offset {offset}");
    let got = net
        .retrieve(&acct, &signer, &[(Namespace(2), None)])
        .await
        .unwrap();
    assert_eq!(got[0].messages.len(), 2);
    dn.shutdown().await;
}
