//! Unit tests of `retrieve.rs`: answers accepted or refused, item checks.

use super::*;
use crate::network::ops::tests::{account, answer, node};
use proptest::prelude::*;
use serde_json::{json, Value};

#[test]
fn failing_subrequests_are_classified() {
    let swarm = json!({"snodes": [], "swarm": "64"});
    let body = json!({"results": [{"code": 421, "body": swarm}]});
    assert!(matches!(
        accept_retrieve(&node(), answer(body), 1),
        Err(SendError::Misdirected { swarm: Some(_), .. })
    ));
    let body = json!({"results": [{"code": 406, "body": "clock"}]});
    assert!(matches!(
        accept_retrieve(&node(), answer(body), 1),
        Err(SendError::ClockOutOfSync { .. })
    ));
    let body = json!({"results": [{"code": 200, "body": {"messages": [], "more": false}}]});
    assert!(
        accept_retrieve(&node(), answer(body.clone()), 2).is_err(),
        "result count must match"
    );
    assert_eq!(accept_retrieve(&node(), answer(body), 1).unwrap().len(), 1);
}

#[test]
fn copies_are_checked_against_their_hash() {
    use base64::Engine as _;
    let acct = account();
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let mut m = RetrievedMessage {
        hash: message_hash(&acct, Namespace(0), b"one"),
        timestamp: 1,
        expiration: 2,
        data: b64(b"one"),
    };
    let check = |m: &RetrievedMessage| RetrievedItem::check(&acct, Namespace(0), m).data;
    assert_eq!(check(&m), ItemData::Intact(b"one".to_vec()));
    m.data = b64(b"two");
    assert_eq!(check(&m), ItemData::Tampered(b"two".to_vec()));
    m.data = "not base64!".into();
    assert_eq!(check(&m), ItemData::Tampered(Vec::new()));
    let other = RetrievedItem::check(
        &acct,
        Namespace(2),
        &RetrievedMessage {
            data: b64(b"one"),
            ..m
        },
    );
    assert!(!other.is_intact(), "the namespace is part of the hash");
}

#[test]
fn long_pages_are_cut_and_marked_more() {
    let acct = account();
    let m = RetrievedMessage {
        hash: message_hash(&acct, Namespace(0), b"x"),
        timestamp: 1,
        expiration: 2,
        data: "eA==".into(),
    };
    let long = RetrieveResponse {
        messages: vec![m; MAX_MESSAGES_PER_PAGE + 5],
        more: false,
        t: None,
        hf: None,
    };
    let cursors = [NamespaceCursor::new(Namespace(0), None)];
    let pages = check_answer(&acct, &cursors, vec![long]);
    assert_eq!(pages[0].items.len(), MAX_MESSAGES_PER_PAGE);
    assert!(pages[0].more);
}

#[test]
fn merge_prefers_intact_copies_and_orders_by_time() {
    use base64::Engine as _;
    let acct = account();
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let msg = |data: &[u8], served: &[u8], ts: u64| RetrievedMessage {
        hash: message_hash(&acct, Namespace(0), data),
        timestamp: ts,
        expiration: ts + 1,
        data: b64(served),
    };
    let resp = |messages, more| RetrieveResponse {
        messages,
        more,
        t: None,
        hf: None,
    };
    let cursors = [NamespaceCursor::new(Namespace(0), None)];
    let a = MemberAnswer {
        node: SnodeEd25519::from_bytes([1; 32]),
        sent: vec![None],
        pages: check_answer(
            &acct,
            &cursors,
            vec![resp(vec![msg(b"two", b"tampered", 2)], false)],
        ),
    };
    let b = MemberAnswer {
        node: SnodeEd25519::from_bytes([2; 32]),
        sent: vec![None],
        pages: check_answer(
            &acct,
            &cursors,
            vec![resp(
                vec![msg(b"one", b"one", 1), msg(b"two", b"two", 2)],
                true,
            )],
        ),
    };
    assert!(has_tampered(&merge(&cursors, std::slice::from_ref(&a))));
    let merged = merge(&cursors, &[a, b]);
    assert!(!has_tampered(&merged));
    let m = &merged[0];
    assert!(m.more);
    assert_eq!(m.messages.len(), 2);
    assert_eq!(m.messages[0].data, ItemData::Intact(b"one".to_vec()));
    assert_eq!(
        m.messages[1].data,
        ItemData::Intact(b"two".to_vec()),
        "intact copy replaced the tampered one"
    );
}

proptest! {
    #[test]
    fn junk_answers_never_panic(text in ".{0,400}", count in 0usize..4) {
        if let Ok(body) = serde_json::from_str::<Value>(&text) {
            let _ = accept_retrieve(&node(), answer(body), count);
        }
    }

    #[test]
    fn junk_batches_never_panic(code in any::<u16>(), body in ".{0,100}", n in 0usize..3) {
        let b = json!({"results": vec![json!({"code": code, "body": body}); n]});
        let _ = accept_retrieve(&node(), answer(b), n);
    }
}

/// One signing per round serves both members: each member's batch is byte for byte the batch
/// signed for that member alone (as before the signature was shared), its own last hashes in it.
#[test]
fn a_round_signed_once_gives_each_member_its_own_batch() {
    use ed25519_dalek::SigningKey;
    let key = SigningKey::from_bytes(&[7; 32]);
    let signer = Signer::Account(&key);
    let acct = account();
    let (a, b) = (
        SnodeEd25519::from_bytes([1; 32]),
        SnodeEd25519::from_bytes([2; 32]),
    );
    let hash = |n: u8| message_hash(&account(), Namespace(0), &[n]);
    let mut own = NamespaceCursor::new(Namespace(0), Some(hash(9)));
    own.advance(&[(a, hash(1)), (b, hash(2))]);
    let mut config = NamespaceCursor::new(Namespace(5), None);
    config.advance(&[(b, hash(3))]);
    let cursors = [own, config];
    let now = 1_700_000_000_123;
    let round = SignedRound::sign(&acct, &signer, &cursors, now);
    for node in [a, b] {
        let alone = cursors
            .iter()
            .map(|c| {
                StorageRequest::retrieve(&acct, c.namespace, c.for_node(&node), None, now, &signer)
            })
            .collect();
        let alone = StorageRequest::batch(alone).unwrap();
        assert_eq!(
            round.for_node(&node, &cursors).unwrap().to_json(),
            alone.to_json()
        );
    }
    let for_a = round.for_node(&a, &cursors).unwrap().to_json();
    assert_eq!(
        for_a["params"]["requests"][0]["params"]["last_hash"],
        json!(hash(1).as_str())
    );
    assert_eq!(
        for_a["params"]["requests"][1]["params"]["last_hash"],
        json!("")
    );
}
