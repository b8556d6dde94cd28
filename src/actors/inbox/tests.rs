//! The receive checks on payloads built by the send pipeline (a second path: the outgoing
//! builder and `protocol::dm`), tampered and forged copies, sync copies, and junk.

use base64::Engine as _;
use proptest::prelude::*;

use super::*;
use crate::actors::keys::AccountKeys;
use crate::actors::outgoing::build_payload;
use crate::ids::SessionIdText;
use crate::network::RetrievedItem;
use crate::protocol::keys::Identity as Keys;
use crate::protocol::storage::message_hash;
use crate::protocol::storage::response::RetrievedMessage;

fn account(byte: u8) -> AccountKeys {
    let keys = Keys::from_seed(crate::protocol::keys::Seed::from_entropy(&[byte; 16]));
    let id = SessionIdText::parse(&keys.session_id().to_string()).unwrap();
    AccountKeys::from_stored_seed(&id, &[byte; 16]).unwrap()
}

/// What the network hands on for `data` served intact from `owner`'s swarm.
fn retrieved(owner: &AccountKeys, data: &[u8]) -> RetrievedItem {
    served(
        owner,
        data,
        &base64::engine::general_purpose::STANDARD.encode(data),
    )
}

/// What the network hands on for `data` stored on `owner`'s swarm and `text` served for it: the
/// one hash check runs in the network's [`RetrievedItem::check`].
fn served(owner: &AccountKeys, data: &[u8], text: &str) -> RetrievedItem {
    let message = RetrievedMessage {
        hash: message_hash(&owner.account, DM_NAMESPACE, data),
        timestamp: 1,
        expiration: 2,
        data: text.to_owned(),
    };
    RetrievedItem::check(&owner.account, DM_NAMESPACE, &message)
}

const TS: u64 = 1_700_000_000_123;

fn text_of(a: &Accepted) -> Option<String> {
    a.events.iter().find_map(|e| match e {
        ChatEvent::Message(m) => m.text.clone(),
        _ => None,
    })
}

#[test]
fn a_message_from_a_peer_is_accepted_as_incoming() {
    let (alice, bob) = (account(1), account(2));
    let payload = build_payload(
        &alice,
        &bob.identity.session_id(),
        "hi",
        TS,
        Some("Alice"),
        None,
        "m1",
    )
    .unwrap();
    let m = retrieved(&bob, &payload);
    let Verdict::Accepted(a) = classify(&bob, &m) else {
        panic!("not accepted");
    };
    assert_eq!(a.hash, m.hash.as_str());
    assert_eq!(a.sender, alice.session_id);
    assert_eq!(a.timestamp, TS as i64);
    assert_eq!(text_of(&a), Some("hi".to_owned()));
    // The display name travels as the sender's profile.
    assert!(a.events.iter().any(|e| matches!(e,
        ChatEvent::ProfileUpdated(p) if p.display_name.as_deref() == Some("Alice"))));
    // Byte-identical on a resend (deterministic encryption and decoy).
    let again = build_payload(
        &alice,
        &bob.identity.session_id(),
        "hi",
        TS,
        Some("Alice"),
        None,
        "m1",
    )
    .unwrap();
    assert_eq!(again, payload);
}

#[test]
fn a_sync_copy_names_its_target_as_peer() {
    let (alice, bob) = (account(1), account(2));
    let own = alice.identity.session_id();
    let payload = build_payload(&alice, &own, "hi", TS, None, Some(&bob.session_id), "m1").unwrap();
    match classify(&alice, &retrieved(&alice, &payload)) {
        Verdict::Accepted(a) => {
            assert_eq!(a.sender, alice.session_id);
            let target = a.events.iter().find_map(|e| match e {
                ChatEvent::Message(m) => m.sync_target.map(|t| t.to_string()),
                _ => None,
            });
            assert_eq!(target, Some(bob.session_id.clone()));
        }
        other => panic!("{other:?}"),
    }
    let bad = build_payload(&alice, &own, "hi", TS, None, Some("05zz"), "m2").unwrap();
    assert_eq!(
        classify(&alice, &retrieved(&alice, &bad)),
        Verdict::Dropped("bad_sync_target")
    );
}

#[test]
fn tampered_data_is_detected_before_decryption() {
    let (alice, bob) = (account(1), account(2));
    let payload = build_payload(
        &alice,
        &bob.identity.session_id(),
        "hi",
        TS,
        None,
        None,
        "m1",
    )
    .unwrap();
    // What the devnet's tamper fault does: flip the first byte, keep the hash.
    let mut data = payload.clone();
    data[0] ^= 0xff;
    let m = served(
        &bob,
        &payload,
        &base64::engine::general_purpose::STANDARD.encode(&data),
    );
    assert_eq!(classify(&bob, &m), Verdict::Tampered);
    let m = served(&bob, &payload, "not base64!");
    assert_eq!(classify(&bob, &m), Verdict::Tampered);
}

#[test]
fn forged_or_misaddressed_messages_are_dropped() {
    let (alice, bob, carol) = (account(1), account(2), account(3));
    // Sealed for Carol, stored on Bob's swarm: does not open.
    let payload = build_payload(
        &alice,
        &carol.identity.session_id(),
        "hi",
        TS,
        None,
        None,
        "m1",
    )
    .unwrap();
    assert_eq!(
        classify(&bob, &retrieved(&bob, &payload)),
        Verdict::Dropped("undecryptable")
    );
    // A node re-hashing altered bytes gets past the hash check but not the seal or the parse.
    let mut forged = build_payload(
        &alice,
        &bob.identity.session_id(),
        "hi",
        TS,
        None,
        None,
        "m1",
    )
    .unwrap();
    let last = forged.len() - 1;
    forged[last / 2] ^= 1;
    assert!(matches!(
        classify(&bob, &retrieved(&bob, &forged)),
        Verdict::Dropped(_)
    ));
    assert_eq!(
        classify(&bob, &retrieved(&bob, b"junk")),
        Verdict::Dropped("invalid_envelope")
    );
}

#[test]
fn messages_without_text_are_ignored() {
    let (alice, bob) = (account(1), account(2));
    let payload =
        build_payload(&alice, &bob.identity.session_id(), "", TS, None, None, "m1").unwrap();
    assert_eq!(classify(&bob, &retrieved(&bob, &payload)), Verdict::Ignored);
}

proptest! {
    #[test]
    fn junk_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600), flip in any::<usize>()) {
        let bob = account(2);
        let m = retrieved(&bob, &data);
        prop_assert!(!matches!(classify(&bob, &m), Verdict::Accepted(_)));
        // Mutations of a valid payload are never accepted as something else.
        let alice = account(1);
        let mut payload = build_payload(&alice, &bob.identity.session_id(), "hi", TS, None, None, "m")
            .unwrap();
        let i = flip % payload.len();
        payload[i] ^= 0x01;
        if let Verdict::Accepted(a) = classify(&bob, &retrieved(&bob, &payload)) {
            prop_assert_eq!(text_of(&a), Some("hi".to_owned()));
        }
    }
}

/// A poll reports each conversation that got something once, with the newest timestamp: a
/// peer's messages under the sender, our sync copies under their target.
#[test]
fn touched_names_each_conversation_once() {
    let (alice, bob, carol) = (account(1), account(2), account(3));
    let open = |from: &AccountKeys, to: &AccountKeys, ts: u64, sync: Option<&str>, id: &str| {
        let payload =
            build_payload(from, &to.identity.session_id(), "hi", ts, None, sync, id).unwrap();
        match classify(to, &retrieved(to, &payload)) {
            Verdict::Accepted(a) => (to.session_id.clone(), a),
            other => panic!("{other:?}"),
        }
    };
    let accepted = vec![
        open(&alice, &bob, TS, None, "m1"),
        open(&carol, &bob, TS + 5, None, "m2"),
        open(&alice, &bob, TS + 9, None, "m3"),
        // Bob's other device wrote to Carol: a sync copy on Bob's own swarm.
        open(&bob, &bob, TS + 1, Some(&carol.session_id), "m4"),
    ];
    let conversation = |k: &AccountKeys| ConversationId::parse(&k.session_id).unwrap();
    let seen: Vec<(String, ConversationId, i64)> = touched(&accepted)
        .into_iter()
        .map(|t| (t.recipient, t.conversation, t.latest))
        .collect();
    let bob_id = bob.session_id.clone();
    assert_eq!(
        seen,
        vec![
            (bob_id.clone(), conversation(&alice), TS as i64 + 9),
            (bob_id, conversation(&carol), TS as i64 + 5),
        ]
    );
}

#[test]
fn a_copy_this_replica_stored_is_passed_over_unopened_unless_tampered() {
    use crate::actors::sources::own_swarm::{OwnCopies, OwnSwarm};
    use crate::actors::sources::Source as _;
    use std::sync::Arc;

    let (alice, bob) = (account(1), account(2));
    let own = alice.identity.session_id();
    let sync = build_payload(&alice, &own, "hi", TS, None, Some(&bob.session_id), "m1").unwrap();
    let copies = Arc::new(OwnCopies::default());
    let alice = Arc::new(alice);
    let source = OwnSwarm::new(alice.clone(), copies.clone(), None);
    let item = retrieved(&alice, &sync);
    let verdict = |item: &RetrievedItem| {
        let mut deliveries = source.open(item);
        assert_eq!(deliveries.len(), 1);
        deliveries.remove(0).verdict
    };
    // Not remembered (another replica's, or before a restart): opened and accepted as before.
    assert!(matches!(verdict(&item), Verdict::Accepted(_)));

    copies.remember(item.hash.as_str());
    assert_eq!(verdict(&item), Verdict::OwnCopy);
    // The same hash served altered is not what this replica stored: still tampered.
    let mut altered = sync.clone();
    altered[0] ^= 0xff;
    let tampered = served(
        &alice,
        &sync,
        &base64::engine::general_purpose::STANDARD.encode(&altered),
    );
    assert_eq!(verdict(&tampered), Verdict::Tampered);
}

#[test]
fn own_copies_keep_the_newest_hashes() {
    use crate::actors::sources::own_swarm::{OwnCopies, MAX_OWN_COPIES};

    let copies = OwnCopies::default();
    for n in 0..=MAX_OWN_COPIES {
        copies.remember(&format!("hash{n}"));
    }
    copies.remember("hash1"); // again: no second entry
    assert!(!copies.contains("hash0"), "the oldest was forgotten");
    assert!(copies.contains("hash1"));
    assert!(copies.contains(&format!("hash{MAX_OWN_COPIES}")));
}
