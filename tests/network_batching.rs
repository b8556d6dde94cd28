//! Batched polling and path isolation (issue 16; issue 13, attack 7), read off the devnet's
//! route logs: retrieves of accounts in one swarm share onion requests, each still signed by
//! its own account, and one account's 421, bad signature or tampered data stays its own;
//! under `path_isolation = per_account` nothing is shared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod netsupport;

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use netsupport::{account, config, devnet, fault, identity, swarm_indexes};
use session_gateway::devnet::{Devnet, RouteEntry};
use session_gateway::network::{
    ItemData, NetworkConfig, NetworkError, OnionCipher, PathIsolation, SessionNetwork,
};
use session_gateway::protocol::keys::Identity;
use session_gateway::protocol::storage::{AccountId, Namespace, Signer};

/// `count` fresh identities whose accounts share one swarm, and its node indexes.
fn in_one_swarm(dn: &Devnet, count: usize) -> (Vec<Identity>, Vec<usize>) {
    let first = identity();
    let swarm = swarm_indexes(dn, &account(&first));
    let mut ids = vec![first];
    while ids.len() < count {
        let next = identity();
        if swarm_indexes(dn, &account(&next)) == swarm {
            ids.push(next);
        }
    }
    (ids, swarm)
}

/// How many route entries each of the nodes `indexes` holds now.
fn mark(dn: &Devnet, indexes: &[usize]) -> Vec<usize> {
    indexes.iter().map(|i| dn.routes(*i).len()).collect()
}

/// The route entries the nodes `indexes` logged after `marks`, whose method starts with
/// `method`.
fn entries_since(dn: &Devnet, indexes: &[usize], marks: &[usize], method: &str) -> Vec<RouteEntry> {
    (indexes.iter().zip(marks))
        .flat_map(|(i, from)| dn.routes(*i).into_iter().skip(*from))
        .filter(|e| e.method.starts_with(method))
        .collect()
}

/// Stores one message for each identity (this also caches each account's swarm, so the
/// retrieves that follow go out together).
async fn store_one_each(net: &SessionNetwork, ids: &[Identity]) {
    for (i, id) in ids.iter().enumerate() {
        let data = format!("message {i}").into_bytes();
        net.store(&account(id), Namespace(0), &data, 60_000, None)
            .await
            .unwrap();
    }
}

/// Retrieves namespace 0 for every identity at once (`signers[i]` signs for `ids[i]`).
async fn retrieve_all(
    net: &SessionNetwork,
    ids: &[Identity],
    signers: &[&Identity],
) -> Vec<Result<Vec<ItemData>, NetworkError>> {
    join_all(ids.iter().zip(signers).map(|(id, signer)| async move {
        let signer = Signer::Account(signer.signing_key());
        let got = net
            .retrieve(&account(id), &signer, &[(Namespace(0), None)])
            .await?;
        Ok(got[0].messages.iter().map(|m| m.data.clone()).collect())
    }))
    .await
}

fn batching_config(dn: &Devnet) -> NetworkConfig {
    let mut c = config(dn, OnionCipher::AesGcm);
    // Wide enough that retrieves (stores) started together always meet.
    c.batch_window_ms = 300;
    c.store_window_ms = 300;
    c
}

/// A client of `dn` with `batching_config`'s windows under `per_account` isolation.
fn per_account_network(dn: &Devnet) -> SessionNetwork {
    let mut c = batching_config(dn);
    c.path_isolation = PathIsolation::PerAccount;
    SessionNetwork::new(c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_of_one_swarm_share_requests_each_signed_by_its_account() {
    let dn = devnet(12, 4).await;
    let net = SessionNetwork::new(batching_config(&dn)).unwrap();
    let (ids, swarm) = in_one_swarm(&dn, 6);
    store_one_each(&net, &ids).await;
    let marks = mark(&dn, &swarm);
    let before = net.stats();
    // The last account signs with another account's key: the node refuses its retrieve
    // (401), and only its.
    let mut signers: Vec<&Identity> = ids.iter().collect();
    signers[5] = &ids[0];
    let results = retrieve_all(&net, &ids, &signers).await;
    for (i, result) in results.iter().enumerate().take(5) {
        let data = result.as_ref().unwrap();
        assert_eq!(
            data,
            &[ItemData::Intact(format!("message {i}").into_bytes())]
        );
    }
    assert!(
        matches!(&results[5], Err(NetworkError::Rejected(e)) if e.to_string().contains("401")),
        "{:?}",
        results[5]
    );
    // Six accounts, two members each: two shared requests instead of twelve.
    let batches = entries_since(&dn, &swarm, &marks, "batch");
    let accounts: HashSet<String> = ids.iter().map(|id| account(id).to_hex()).collect();
    assert_eq!(batches.len(), 2, "{batches:?}");
    for batch in &batches {
        let named: HashSet<String> = batch.pubkeys.iter().cloned().collect();
        assert_eq!(
            named, accounts,
            "every account's retrieve rode in each request"
        );
    }
    let stats = net.stats();
    assert_eq!(
        (
            stats.batched_requests - before.batched_requests,
            stats.batched_retrieves - before.batched_retrieves
        ),
        (2, 12)
    );
    dn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_misdirected_or_tampered_account_in_a_batch_leaves_the_others_alone() {
    let dn = devnet(12, 4).await;
    let net = SessionNetwork::new(batching_config(&dn)).unwrap();
    let (ids, swarm) = in_one_swarm(&dn, 5);
    store_one_each(&net, &ids).await;
    // Two members answer 421 for account 0 only, a third tampers with account 1's data only;
    // one member is honest. Each retrieve asks two members, so every round's shared requests
    // reach a faulty one.
    let aim = |id: &Identity| Some(account(id).to_hex());
    for node in &swarm[..2] {
        dn.set_faults(
            *node,
            fault(|f| {
                f.false_421 = true;
                f.only_account = aim(&ids[0]);
            }),
        );
    }
    dn.set_faults(
        swarm[2],
        fault(|f| {
            f.tamper_retrieve = true;
            f.only_account = aim(&ids[1]);
        }),
    );
    let marks = mark(&dn, &swarm[..3]);
    let signers: Vec<&Identity> = ids.iter().collect();
    for _ in 0..3 {
        let results = retrieve_all(&net, &ids, &signers).await;
        for (i, result) in results.iter().enumerate() {
            let data = result.as_ref().unwrap();
            assert_eq!(
                data,
                &[ItemData::Intact(format!("message {i}").into_bytes())],
                "account {i}: an honest member's copy wins"
            );
        }
    }
    let shared_with_the_faulty = entries_since(&dn, &swarm[..3], &marks, "batch")
        .into_iter()
        .filter(|e| e.pubkeys.len() >= 2)
        .count();
    assert!(
        shared_with_the_faulty >= 3,
        "faulty members served shared requests"
    );
    let stats = net.stats();
    assert!(
        stats.batched_retrieves > stats.batched_requests,
        "requests were shared: {stats:?}"
    );
    dn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_account_isolation_gives_each_account_its_own_path_and_shares_no_request() {
    let dn = devnet(24, 4).await;
    let net = per_account_network(&dn);
    let (ids, swarm) = in_one_swarm(&dn, 4);
    store_one_each(&net, &ids).await;
    let marks = mark(&dn, &swarm);
    let signers: Vec<&Identity> = ids.iter().collect();
    for _ in 0..2 {
        for result in retrieve_all(&net, &ids, &signers).await {
            assert_eq!(result.unwrap().len(), 1);
        }
    }
    // Stores started together are not shared either.
    for outcome in store_all_at_once(&net, &ids, "isolated").await {
        outcome.unwrap();
    }
    // Every request names one account, and arrives from that account's own last relay.
    let mut relays: HashMap<AccountId, HashSet<String>> = HashMap::new();
    for entry in entries_since(&dn, &swarm, &marks, "") {
        assert!(
            entry.pubkeys.len() <= 1,
            "two accounts in one request: {entry:?}"
        );
        let Some(key) = entry.pubkeys.first() else {
            continue;
        };
        let json = serde_json::to_value(&entry).unwrap();
        let relay = json["relay"].as_str().unwrap_or("direct").to_owned();
        relays
            .entry(AccountId::from_hex(key).unwrap())
            .or_default()
            .insert(relay);
    }
    assert_eq!(relays.len(), ids.len());
    let mut seen = HashSet::new();
    for (acct, used) in &relays {
        assert_eq!(used.len(), 1, "{acct:?} used one path: {used:?}");
        assert!(
            seen.insert(used.iter().next().unwrap().clone()),
            "relay shared"
        );
    }
    let stats = net.stats();
    assert_eq!((stats.batched_requests, stats.batched_stores), (0, 0));
    assert_eq!(stats.owned_paths, ids.len());
    dn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_honest_member_batched_polls_still_get_intact_copies() {
    let dn = devnet(12, 4).await;
    let net = SessionNetwork::new(batching_config(&dn)).unwrap();
    let (ids, swarm) = in_one_swarm(&dn, 3);
    store_one_each(&net, &ids).await;
    for node in &swarm[..3] {
        dn.set_faults(*node, fault(|f| f.tamper_retrieve = true));
    }
    for _ in 0..5 {
        let got = join_all(ids.iter().map(|id| async {
            let signer = Signer::Account(id.signing_key());
            let cursors = [(Namespace(0), None), (Namespace(5), None)];
            net.retrieve(&account(id), &signer, &cursors).await.unwrap()
        }))
        .await;
        for (i, pages) in got.iter().enumerate() {
            let data: Vec<&ItemData> = pages[0].messages.iter().map(|m| &m.data).collect();
            assert_eq!(
                data,
                [&ItemData::Intact(format!("message {i}").into_bytes())],
                "account {i}"
            );
        }
    }
    dn.shutdown().await;
}

/// Stores one message (`"{tag} {i}"`) for each identity at once; each store's outcome.
async fn store_all_at_once(
    net: &SessionNetwork,
    ids: &[Identity],
    tag: &str,
) -> Vec<Result<session_gateway::network::StoreOutcome, NetworkError>> {
    join_all(ids.iter().enumerate().map(|(i, id)| async move {
        let data = format!("{tag} {i}").into_bytes();
        net.store(&account(id), Namespace(0), &data, 60_000, None)
            .await
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_started_together_share_requests_and_each_is_confirmed_on_its_own() {
    let dn = devnet(12, 4).await;
    let net = SessionNetwork::new(batching_config(&dn)).unwrap();
    let (ids, swarm) = in_one_swarm(&dn, 12);
    store_one_each(&net, &ids).await;
    let before = net.stats();
    let marks = mark(&dn, &swarm);
    let outcomes = store_all_at_once(&net, &ids, "together").await;
    for (i, outcome) in outcomes.iter().enumerate() {
        let outcome = outcome.as_ref().unwrap();
        let data = format!("together {i}").into_bytes();
        let hash = session_gateway::protocol::storage::message_hash(
            &account(&ids[i]),
            Namespace(0),
            &data,
        );
        assert_eq!(
            outcome.hash, hash,
            "store {i} is confirmed under its own hash"
        );
        assert_eq!(outcome.confirmed_by.len(), 1);
    }
    // Twelve stores started together, within one window: the first opened a batch at a
    // member and the others, preferring a member with a batch forming, joined it. One request
    // carried them all, each naming its own account.
    let batches = entries_since(&dn, &swarm, &marks, "batch[store");
    assert_eq!(batches.len(), 1, "{batches:?}");
    let named: HashSet<String> = batches[0].pubkeys.iter().cloned().collect();
    let accounts: HashSet<String> = ids.iter().map(|id| account(id).to_hex()).collect();
    assert_eq!(named, accounts);
    let stats = net.stats();
    assert_eq!(stats.batched_stores - before.batched_stores, 12);
    assert_eq!(
        stats.batched_requests - before.batched_requests,
        batches.len() as u64
    );
    // Every message is in its account's swarm, intact.
    let signers: Vec<&Identity> = ids.iter().collect();
    for (i, result) in retrieve_all(&net, &ids, &signers).await.iter().enumerate() {
        let data = result.as_ref().unwrap();
        assert!(
            data.contains(&ItemData::Intact(format!("together {i}").into_bytes())),
            "account {i}: {data:?}"
        );
    }
    dn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_misdirected_store_in_a_shared_request_leaves_the_others_alone() {
    let dn = devnet(12, 4).await;
    let net = SessionNetwork::new(batching_config(&dn)).unwrap();
    let (ids, swarm) = in_one_swarm(&dn, 12);
    store_one_each(&net, &ids).await;
    // Every member answers 421 for account 0's stores only: wherever the shared request goes,
    // account 0's store in it is misdirected.
    let aim = Some(account(&ids[0]).to_hex());
    for node in &swarm {
        dn.set_faults(
            *node,
            fault(|f| {
                f.false_421 = true;
                f.only_account = aim.clone();
            }),
        );
    }
    let marks = mark(&dn, &swarm);
    let outcomes = store_all_at_once(&net, &ids, "shared").await;
    assert!(
        matches!(
            &outcomes[0],
            Err(NetworkError::Exhausted { .. } | NetworkError::NoSwarm(_))
        ),
        "{:?}",
        outcomes[0]
    );
    for (i, outcome) in outcomes.iter().enumerate().skip(1) {
        let outcome = outcome.as_ref().unwrap();
        assert_eq!(outcome.attempts, 1, "store {i}: {outcome:?}");
    }
    // The others succeeded in the very request that carried account 0's refused store.
    let first = entries_since(&dn, &swarm, &marks, "batch[store")
        .into_iter()
        .min_by_key(|e| e.time_ms)
        .unwrap();
    assert_eq!(first.pubkeys.len(), ids.len(), "{first:?}");
    dn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_per_account_isolation_a_message_takes_its_senders_path_not_one_of_the_contacts() {
    let dn = devnet(24, 4).await;
    let net = per_account_network(&dn);
    let (alice, carol, bob) = (identity(), identity(), identity());
    for (sender, text) in [(&alice, "from Alice"), (&carol, "from Carol")] {
        net.store_for(
            &account(sender),
            &account(&bob),
            Namespace(0),
            text.as_bytes(),
            60_000,
            None,
        )
        .await
        .unwrap();
    }
    // Alice's path and Carol's: none was built for Bob, whom both wrote to.
    assert_eq!(net.stats().owned_paths, 2);
    dn.shutdown().await;
}
