//! The network client against an in-process devnet: bootstrap from the seed (both seed URL
//! forms), store then retrieve through onion paths with both ciphers, cursors, signed
//! namespaces, delete, `info`, and the file server over v4.

#![allow(clippy::unwrap_used)] // tests may unwrap, helpers included

mod netsupport;

use netsupport::*;
use session_gateway::network::{OnionCipher, SessionNetwork};
use session_gateway::protocol::storage::{message_hash, Namespace, Signer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstraps_from_the_seed_in_both_url_forms() {
    let dn = devnet(12, 4).await;
    let net = network(&dn, OnionCipher::AesGcm);
    net.bootstrap().await.unwrap();
    let stats = net.stats();
    assert_eq!(stats.pool_size, 12);
    assert_eq!(stats.paths, 2);
    let paths = net.paths();
    let mut all: Vec<_> = paths.iter().flatten().copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 6, "two paths of three distinct nodes each");

    // The seed given as a base URL (`…/`) gets `json_rpc` appended.
    let mut config = config(&dn, OnionCipher::AesGcm);
    config.seeds = vec![dn.seed_url().trim_end_matches("json_rpc").to_owned()];
    let other = SessionNetwork::new(config).unwrap();
    other.bootstrap().await.unwrap();
    assert_eq!(other.stats().pool_size, 12);
    let info = other.info().await.unwrap();
    assert_eq!(info.version, vec![2, 8, 0]);
    dn.shutdown().await;
}

async fn store_then_retrieve(enc: OnionCipher) {
    let dn = devnet(12, 4).await;
    let net = network(&dn, enc);
    let me = identity();
    let acct = account(&me);
    let signer = Signer::Account(me.signing_key());

    let data = b"a DM payload".to_vec();
    let stored = net
        .store(&acct, Namespace(0), &data, 14 * 24 * 3600 * 1000, None)
        .await
        .unwrap();
    assert_eq!(stored.hash, message_hash(&acct, Namespace(0), &data));
    assert!(!stored.confirmed_by.is_empty());

    let config_blob = b"a config message".to_vec();
    let signed = net
        .store(
            &acct,
            Namespace(2),
            &config_blob,
            30 * 24 * 3600 * 1000,
            Some(&signer),
        )
        .await
        .unwrap();

    let got = net
        .retrieve(
            &acct,
            &signer,
            &[(Namespace(0), None), (Namespace(2), None)],
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].namespace, Namespace(0));
    assert_eq!(got[0].messages.len(), 1);
    assert_eq!(got[0].messages[0].hash, stored.hash);
    assert_eq!(got[1].messages[0].hash, signed.hash);

    // With the last hash as the cursor nothing new comes back.
    let again = net
        .retrieve(&acct, &signer, &[(Namespace(0), Some(stored.hash.clone()))])
        .await
        .unwrap();
    assert!(again[0].messages.is_empty());

    let deleted = net
        .delete(&acct, &signer, vec![stored.hash.clone()])
        .await
        .unwrap();
    assert_eq!(deleted.deleted, vec![stored.hash.clone()]);
    let after = net
        .retrieve(&acct, &signer, &[(Namespace(0), None)])
        .await
        .unwrap();
    assert!(after[0].messages.is_empty());
    dn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_then_retrieve_aes_gcm() {
    store_then_retrieve(OnionCipher::AesGcm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_then_retrieve_xchacha20() {
    store_then_retrieve(OnionCipher::Xchacha20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_accounts_share_one_client() {
    let dn = devnet(12, 4).await;
    let net = network(&dn, OnionCipher::AesGcm);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let net = net.clone();
            tokio::spawn(async move {
                let me = identity();
                let acct = account(&me);
                let data = format!("message {i}").into_bytes();
                let stored = net
                    .store(&acct, Namespace(0), &data, 60_000, None)
                    .await
                    .unwrap();
                let signer = Signer::Account(me.signing_key());
                let got = net
                    .retrieve(&acct, &signer, &[(Namespace(0), None)])
                    .await
                    .unwrap();
                assert_eq!(got[0].messages[0].hash, stored.hash);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        net.stats().paths,
        2,
        "concurrent first requests built one set of paths"
    );
    dn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_through_v4() {
    let dn = devnet(12, 4).await;
    let net = network(&dn, OnionCipher::Xchacha20);
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let up = net.upload_file(blob.clone()).await.unwrap();
    assert!(up.url.starts_with(dn.file_server_url()));
    assert_eq!(net.download_file(&up.url).await.unwrap(), blob);
    assert!(net
        .download_file("http://elsewhere.example/file/1")
        .await
        .is_err());
    let missing = format!("{}/file/doesnotexist", dn.file_server_url());
    assert!(net.download_file(&missing).await.is_err());
    dn.shutdown().await;
}

/// §2.3: with a large pool, a refresh asks 3 pool nodes for `get_service_nodes` through the
/// onion and keeps the intersection, instead of asking the seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_refreshes_from_three_nodes_through_the_onion() {
    let dn = devnet(30, 5).await;
    let mut config = config(&dn, OnionCipher::AesGcm);
    config.refresh_from_snodes = true;
    config.pool_max_age_ms = 0; // every call refreshes
    let net = SessionNetwork::new(config).unwrap();
    net.bootstrap().await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2)); // the pool must age past 0 ms
    net.info().await.unwrap();
    assert_eq!(net.stats().pool_size, 30);
    let asked: usize = dn
        .nodes()
        .iter()
        .flat_map(|n| dn.routes(n.index))
        .filter(|e| e.method == "oxend_request")
        .inspect(|e| {
            assert!(matches!(
                e.arrival,
                session_gateway::devnet::Arrival::Onion { relay: Some(_), .. }
            ))
        })
        .count();
    assert!(asked >= 3, "{asked} oxend_request calls");
    dn.shutdown().await;
}

/// Prints round-trip figures on the devnet (not a pass/fail benchmark).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_round_trips() {
    let dn = devnet(12, 4).await;
    let net = network(&dn, OnionCipher::AesGcm);
    let t0 = std::time::Instant::now();
    net.bootstrap().await.unwrap();
    let bootstrap = t0.elapsed();
    let me = identity();
    let acct = account(&me);
    let signer = Signer::Account(me.signing_key());
    let n = 30;
    let t1 = std::time::Instant::now();
    for i in 0..n {
        net.store(&acct, Namespace(0), format!("{i}").as_bytes(), 60_000, None)
            .await
            .unwrap();
    }
    let store = t1.elapsed() / n;
    let t2 = std::time::Instant::now();
    for _ in 0..n {
        net.retrieve(&acct, &signer, &[(Namespace(0), None)])
            .await
            .unwrap();
    }
    let retrieve = t2.elapsed() / n;
    eprintln!("devnet figures: bootstrap {bootstrap:?}, store {store:?}/op, retrieve (2 members, 30 msgs) {retrieve:?}/op");
    dn.shutdown().await;
}
