//! The Identity hands what a poll committed to each conversation's actor (issue 9). An Identity
//! runs alone here, without a Supervisor, so the store's "outgoing queued" notice reaches
//! nobody: the message request response its poll queues for a first message can only go out
//! because the conversation's actor received `Incoming` after the commit and ran its queue.
//! The peer is a simulated client (its keys and its own network client). Waits are on
//! observable state with a deadline, never sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use actix::prelude::*;
use gateway_support as gs;
use session_gateway::actors::inbox::{classify, Verdict};
use session_gateway::actors::keys::AccountKeys;
use session_gateway::actors::outgoing::{build_payload, DM_TTL_MS};
use session_gateway::actors::supervisor::ChildStopped;
use session_gateway::actors::Identity;
use session_gateway::ids::SessionIdText;
use session_gateway::protocol::chat::ChatEvent;
use session_gateway::protocol::keys::Identity as Keys;
use session_gateway::protocol::storage::{Namespace, Signer};
use session_gateway::store::{MasterKey, Store};

/// Stands in for the Supervisor: takes the Identity's stop report and does nothing.
struct NoSupervisor;

impl Actor for NoSupervisor {
    type Context = Context<Self>;
}

impl Handler<ChildStopped> for NoSupervisor {
    type Result = ();
    fn handle(&mut self, _: ChildStopped, _: &mut Context<Self>) {}
}

fn keys_of(identity: &Keys) -> AccountKeys {
    let id = SessionIdText::parse(&identity.session_id().to_string()).unwrap();
    let entropy = identity.recovery_phrase().unwrap().entropy().to_vec();
    AccountKeys::from_stored_seed(&id, &entropy).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_hands_its_conversations_to_their_actors() {
    let devnet = netsupport::devnet(8, 4).await;
    let dir = tempfile::tempdir().unwrap();
    let master = common::master_key();
    let settings = gs::settings(&master);
    let store = Store::open(
        &settings.database_url(dir.path()),
        1,
        MasterKey::from_base64(&master).unwrap(),
    )
    .await
    .unwrap();
    let (alice, bob) = (netsupport::identity(), netsupport::identity());
    let (alice_keys, bob_keys) = (keys_of(&alice), keys_of(&bob));
    let bob_id = SessionIdText::parse(&bob_keys.session_id).unwrap();
    let entropy = bob.recovery_phrase().unwrap().entropy().to_vec();
    store
        .insert_account(&bob_id, None, &entropy, 1_700_000_000_000)
        .await
        .unwrap();
    let deps = common::deps(&store, gs::network(&devnet), &settings);

    // Bob's Identity alone on its own actor thread, until the test ends.
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let actors = std::thread::spawn(move || {
        actix::System::new().block_on(async move {
            let supervisor = NoSupervisor.start();
            let _bob = Identity::new(bob_id, 1, deps, supervisor.recipient(), None).start();
            let _ = finished.await;
        });
    });

    // Alice's first message to Bob, stored on Bob's swarm by Alice's own client.
    let alice_net = gs::network(&devnet);
    let payload = build_payload(
        &alice_keys,
        &bob.session_id(),
        "hello",
        1_700_000_000_000,
        Some("Alice"),
        None,
        "alice-1",
    )
    .unwrap();
    alice_net
        .store(&bob_keys.account, Namespace(0), &payload, DM_TTL_MS, None)
        .await
        .unwrap();

    // Bob auto-accepts the request and its reply reaches Alice's swarm.
    let signer = Signer::Account(alice_keys.identity.signing_key());
    let approved = common::eventually(60, "the request response on Alice's swarm", || async {
        let answers = alice_net
            .retrieve(&alice_keys.account, &signer, &[(Namespace(0), None)])
            .await
            .ok()?;
        answers
            .iter()
            .flat_map(|batch| &batch.messages)
            .find_map(|item| match classify(&alice_keys, item) {
                Verdict::Accepted(a) if a.sender == bob_keys.session_id => {
                    a.events.into_iter().find_map(|e| match e {
                        ChatEvent::MessageRequestResponse { approved, .. } => Some(approved),
                        _ => None,
                    })
                }
                _ => None,
            })
    })
    .await;
    assert!(approved);

    let _ = done.send(());
    actors.join().unwrap();
    devnet.shutdown().await;
}
