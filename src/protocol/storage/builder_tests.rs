//! Request JSON compared with hand-written literals of what Session Desktop sends (SD
//! `SnodeRequestTypes.ts` `build()` methods), with signatures recomputed over literal strings.

use super::*;
use ed25519_dalek::SigningKey;
use serde_json::json;

const NOW: u64 = 1_700_000_000_000;
const H1: &str = "WYAYCvijH+g8bvfheT1oUQI7BkQ4gnNIW0QXgGa00fA";
const H2: &str = "Vsq/97eCoUN0w1q4kEgM9AZpXUPCp47/601bW3KZjbQ";

struct User {
    key: SigningKey,
    account: AccountId,
}

/// A Session ID account: `05` + the X25519 form of its Ed25519 key, as real accounts are.
fn user() -> User {
    let key = SigningKey::from_bytes(&[42; 32]);
    let account = AccountId::new(0x05, key.verifying_key().to_montgomery().to_bytes());
    User { key, account }
}

fn group() -> (SigningKey, AccountId) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let account = AccountId::new(0x03, key.verifying_key().to_bytes());
    (key, account)
}

/// Signs a literal string independently of `signing.rs`.
fn sig(key: &SigningKey, text: &[u8]) -> String {
    STANDARD.encode(key.sign(text).to_bytes())
}

fn ed_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().as_bytes())
}

fn hashes() -> Vec<MessageHash> {
    vec![
        MessageHash::parse(H1).unwrap(),
        MessageHash::parse(H2).unwrap(),
    ]
}

#[test]
fn store_dm_is_unsigned() {
    let u = user();
    let req = StorageRequest::store(
        &u.account,
        Namespace(0),
        b"hello",
        1_209_600_000,
        NOW,
        Some(&Signer::Account(&u.key)),
    )
    .unwrap();
    // StoreUserMessageSubRequest
    let want = json!({"method": "store", "params": {
        "pubkey": u.account.to_hex(), "timestamp": NOW, "namespace": 0,
        "ttl": 1_209_600_000u64, "data": "aGVsbG8="
    }});
    assert_eq!(req.to_json(), want);
}

#[test]
fn store_config_is_signed() {
    let u = user();
    let req = StorageRequest::store(
        &u.account,
        Namespace(2),
        b"cfg",
        2_592_000_000,
        NOW,
        Some(&Signer::Account(&u.key)),
    )
    .unwrap();
    // StoreUserConfigSubRequest: {namespace, ttl, data, ...getSnodeSignatureParamsUs}
    let want = json!({"method": "store", "params": {
        "namespace": 2, "ttl": 2_592_000_000u64, "data": "Y2Zn",
        "timestamp": NOW, "signature": sig(&u.key, b"store21700000000000"),
        "pubkey_ed25519": ed_hex(&u.key), "pubkey": u.account.to_hex()
    }});
    assert_eq!(req.to_json(), want);
    assert_eq!(
        StorageRequest::store(&u.account, Namespace(2), b"x", 1, NOW, None),
        Err(RequestError::Empty("store signer"))
    );
    let big = vec![0u8; MAX_STORE_DATA_BYTES + 1];
    assert_eq!(
        StorageRequest::store(&u.account, Namespace(0), &big, 1, NOW, None),
        Err(RequestError::DataTooLarge(big.len()))
    );
}

#[test]
fn retrieve_user_and_group_subaccount() {
    let u = user();
    let req = StorageRequest::retrieve(
        &u.account,
        Namespace(0),
        None,
        None,
        NOW,
        &Signer::Account(&u.key),
    );
    // RetrieveUserSubRequest (max_size undefined is dropped by JSON.stringify)
    let want = json!({"method": "retrieve", "params": {
        "namespace": 0, "pubkey": u.account.to_hex(), "pubkey_ed25519": ed_hex(&u.key),
        "signature": sig(&u.key, b"retrieve1700000000000"), "timestamp": NOW, "last_hash": ""
    }});
    assert_eq!(req.to_json(), want);

    let (group_key, group) = group();
    let member = SigningKey::from_bytes(&[9; 32]);
    let token = SubaccountToken::new(
        0x03,
        super::super::SubaccountFlags::READ,
        member.verifying_key().as_bytes(),
    );
    let token_signature = group_key.sign(token.as_bytes());
    let signer = Signer::Subaccount {
        key: &member,
        token,
        token_signature,
    };
    let last = MessageHash::parse(H1).unwrap();
    let req = StorageRequest::retrieve(&group, Namespace(11), Some(last), Some(-4), NOW, &signer);
    // RetrieveGroupSubRequest with a member's auth data
    let want = json!({"method": "retrieve", "params": {
        "namespace": 11, "timestamp": NOW, "signature": sig(&member, b"retrieve111700000000000"),
        "pubkey": group.to_hex(), "subaccount": token.to_base64(),
        "subaccount_sig": STANDARD.encode(token_signature.to_bytes()),
        "last_hash": H1, "max_size": -4
    }});
    assert_eq!(req.to_json(), want);
}

#[test]
fn delete_expire_get_expiries_delete_all() {
    let u = user();
    let s = Signer::Account(&u.key);
    let joined = format!("{H1}{H2}");

    let req = StorageRequest::delete(&u.account, hashes(), &s).unwrap();
    let want = json!({"method": "delete", "params": {
        "pubkey": u.account.to_hex(), "pubkey_ed25519": ed_hex(&u.key),
        "signature": sig(&u.key, format!("delete{joined}").as_bytes()), "messages": [H1, H2]
    }});
    assert_eq!(req.to_json(), want);

    let req = StorageRequest::delete_all(&u.account, NamespaceSelector::All, NOW, &s);
    let want = json!({"method": "delete_all", "params": {
        "pubkey": u.account.to_hex(), "pubkey_ed25519": ed_hex(&u.key).to_uppercase(),
        "signature": sig(&u.key, b"delete_allall1700000000000"), "timestamp": NOW, "namespace": "all"
    }});
    assert_eq!(req.to_json(), want);

    let req = StorageRequest::expire(
        &u.account,
        hashes(),
        Expiries::One(NOW + 5),
        ExpireMode::Shorten,
        &s,
    )
    .unwrap();
    let want = json!({"method": "expire", "params": {
        "pubkey": u.account.to_hex(), "pubkey_ed25519": ed_hex(&u.key),
        "signature": sig(&u.key, format!("expireshorten1700000000005{joined}").as_bytes()),
        "messages": [H1, H2], "expiry": NOW + 5, "shorten": true
    }});
    assert_eq!(req.to_json(), want);
    assert_eq!(
        StorageRequest::expire(
            &u.account,
            hashes(),
            Expiries::Many(vec![1]),
            ExpireMode::Any,
            &s
        ),
        Err(RequestError::InvalidExpire)
    );

    let req = StorageRequest::get_expiries(&u.account, hashes(), NOW, &s).unwrap();
    let want = json!({"method": "get_expiries", "params": {
        "pubkey": u.account.to_hex(), "pubkey_ed25519": ed_hex(&u.key).to_uppercase(),
        "signature": sig(&u.key, format!("get_expiries1700000000000{joined}").as_bytes()),
        "messages": [H1, H2], "timestamp": NOW
    }});
    assert_eq!(req.to_json(), want);
    assert_eq!(
        StorageRequest::delete(&u.account, vec![], &s),
        Err(RequestError::Empty("delete"))
    );

    let req =
        StorageRequest::delete_before(&u.account, NamespaceSelector::One(Namespace(3)), NOW, &s);
    assert_eq!(
        req.to_json()["params"]["signature"],
        json!(sig(&u.key, b"delete_before31700000000000"))
    );
    assert_eq!(req.to_json()["params"]["before"], json!(NOW));
    let req = StorageRequest::expire_all(&u.account, NamespaceSelector::default(), NOW, &s);
    assert_eq!(
        req.to_json()["params"]["signature"],
        json!(sig(&u.key, b"expire_all1700000000000"))
    );
    assert_eq!(req.to_json()["params"]["namespace"], json!(0));
}

#[test]
fn revoke_and_unrevoke() {
    let (key, group) = group();
    let token = SubaccountToken::from_bytes([0x5a; 36]);
    let mut signed = b"revoke_subaccount1700000000000".to_vec();
    signed.extend_from_slice(&[0x5a; 36]);
    let req = StorageRequest::revoke_subaccount(&group, vec![token], NOW, &Signer::Account(&key))
        .unwrap();
    // SubaccountRevokeSubRequest
    let want = json!({"method": "revoke_subaccount", "params": {
        "pubkey": group.to_hex(), "signature": sig(&key, &signed),
        "revoke": [hex::encode([0x5a; 36])], "timestamp": NOW
    }});
    assert_eq!(req.to_json(), want);
    let req = StorageRequest::unrevoke_subaccount(&group, vec![token], NOW, &Signer::Account(&key))
        .unwrap();
    assert_eq!(
        req.to_json()["params"]["unrevoke"],
        json!([hex::encode([0x5a; 36])])
    );
    let signer = Signer::Subaccount {
        key: &key,
        token,
        token_signature: key.sign(b""),
    };
    assert!(matches!(
        StorageRequest::revoke_subaccount(&group, vec![token], NOW, &signer),
        Err(RequestError::SubaccountNotAllowed(_))
    ));
    assert_eq!(
        StorageRequest::revoke_subaccount(&group, vec![token; 51], NOW, &Signer::Account(&key)),
        Err(RequestError::TooManyTokens)
    );
}

#[test]
fn unsigned_methods_and_batches() {
    let u = user();
    let fields = json!({"active_only": true, "fields": {
        "public_ip": true, "storage_port": true, "pubkey_x25519": true, "pubkey_ed25519": true}});
    assert_eq!(
        StorageRequest::info().to_json(),
        json!({"method": "info", "params": {}})
    );
    assert_eq!(
        StorageRequest::get_swarm(&u.account).to_json(),
        json!({"method": "get_swarm", "params": {"pubkey": u.account.to_hex(), "params": fields}})
    );
    assert_eq!(
        StorageRequest::get_service_nodes().to_json(),
        json!({"method": "oxend_request", "params": {"endpoint": "get_service_nodes", "params": fields}})
    );
    let batch = StorageRequest::batch(vec![
        StorageRequest::info(),
        StorageRequest::get_swarm(&u.account),
    ])
    .unwrap();
    assert_eq!(
        batch.to_json(),
        json!({"method": "batch", "params": {"requests": [
            {"method": "info", "params": {}},
            {"method": "get_swarm", "params": {"pubkey": u.account.to_hex(), "params": fields}}
        ]}})
    );
    assert_eq!(
        StorageRequest::batch(vec![]),
        Err(RequestError::BatchSize(0))
    );
    assert_eq!(
        StorageRequest::sequence(vec![StorageRequest::info(); 21]),
        Err(RequestError::BatchSize(21))
    );
    assert_eq!(
        StorageRequest::sequence(vec![batch]),
        Err(RequestError::NestedBatch)
    );
}

#[test]
fn parses_what_clients_send() {
    let u = user();
    let pk = u.account.to_hex();
    // Aliases, stringified timestamp/ttl, extra keys, params before method.
    let req: StorageRequest = serde_json::from_value(json!({
        "params": {"pubKey": pk, "timestamp": "1700000000000", "ttl": "86400000", "data": "aGk=", "extra": 1},
        "jsonrpc": "2.0", "method": "store"
    }))
    .unwrap();
    let StorageRequest::Store(store) = &req else {
        panic!("{req:?}")
    };
    assert_eq!(
        (store.timestamp, store.ttl, store.namespace),
        (NOW, Some(86_400_000), Namespace(0))
    );
    let req: StorageRequest = serde_json::from_value(json!({
        "method": "retrieve", "params": {"pubkey": pk, "lastHash": H1, "namespace": -10}
    }))
    .unwrap();
    let StorageRequest::Retrieve(retrieve) = &req else {
        panic!()
    };
    assert_eq!(
        retrieve.last_hash.as_ref().map(MessageHash::as_str),
        Some(H1)
    );
    let req: StorageRequest = serde_json::from_value(
        json!({"method": "get_snodes_for_pubkey", "params": {"pubkey": pk}}),
    )
    .unwrap();
    assert_eq!(req.method(), "get_swarm");
    let bad: Result<StorageRequest, _> =
        serde_json::from_value(json!({"method": "retrieve", "params": {"pubkey": "05"}}));
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("Pubkey must be 66 hex digits (33 bytes) long"));
    let bad: Result<StorageRequest, _> = serde_json::from_value(
        json!({"method": "retrieve", "params": {"pubkey": pk, "last_hash": "short"}}),
    );
    assert!(bad.is_err());

    // Every builder output parses back to itself.
    let s = Signer::Account(&u.key);
    for req in [
        StorageRequest::store(&u.account, Namespace(2), b"x", 20_000, NOW, Some(&s)).unwrap(),
        StorageRequest::retrieve(
            &u.account,
            Namespace(0),
            Some(hashes()[0].clone()),
            Some(-5),
            NOW,
            &s,
        ),
        StorageRequest::delete(&u.account, hashes(), &s).unwrap(),
        StorageRequest::delete_all(&u.account, NamespaceSelector::All, NOW, &s),
        StorageRequest::delete_before(&u.account, NamespaceSelector::All, NOW, &s),
        StorageRequest::expire_all(&u.account, NamespaceSelector::All, NOW, &s),
        StorageRequest::expire(
            &u.account,
            hashes(),
            Expiries::Many(vec![1, 2]),
            ExpireMode::Extend,
            &s,
        )
        .unwrap(),
        StorageRequest::get_expiries(&u.account, hashes(), NOW, &s).unwrap(),
        StorageRequest::get_swarm(&u.account),
        StorageRequest::get_service_nodes(),
        StorageRequest::info(),
    ] {
        let back: StorageRequest = serde_json::from_value(req.to_json()).unwrap();
        assert_eq!(back, req);
        // The bytes sent are the same JSON as the tree the tests above compare.
        let sent: serde_json::Value = serde_json::from_slice(&req.to_json_bytes()).unwrap();
        assert_eq!(sent, req.to_json());
        let batch = StorageRequest::batch(vec![req.clone(), req.clone()]);
        if let Ok(batch) = batch {
            let sent: serde_json::Value = serde_json::from_slice(&batch.to_json_bytes()).unwrap();
            assert_eq!(sent, batch.to_json());
        }
    }
}

proptest::proptest! {
    #[test]
    fn junk_requests_never_panic(text in ".{0,300}") {
        let _ = serde_json::from_str::<StorageRequest>(&text);
    }

    #[test]
    fn signatures_verify_with_the_sent_key(ns: i16, now in 1_000_000_000u64..u64::MAX / 2) {
        let u = user();
        let req = StorageRequest::retrieve(&u.account, Namespace(ns), None, None, now, &Signer::Account(&u.key));
        let StorageRequest::Retrieve(p) = req else { panic!() };
        let sig = crate::protocol::storage::response::decode_signature(p.auth.signature.as_deref().unwrap()).unwrap();
        let message = crate::protocol::storage::signing::retrieve_message(Namespace(ns), now);
        proptest::prop_assert!(u.key.verifying_key().verify_strict(&message, &sig).is_ok());
    }
}

#[test]
fn subaccount_flags_per_method() {
    use super::super::SubaccountFlags as F;
    let u = user();
    let s = Signer::Account(&u.key);
    let store =
        |ns| StorageRequest::store(&u.account, Namespace(ns), b"x", 20_000, NOW, Some(&s)).unwrap();
    assert_eq!(store(11).required_subaccount_flags(), Some(F::WRITE));
    assert_eq!(
        store(-21).required_subaccount_flags(),
        Some(F::WRITE | F::DELETE)
    );
    let retrieve = StorageRequest::retrieve(&u.account, Namespace(0), None, None, NOW, &s);
    assert_eq!(retrieve.required_subaccount_flags(), Some(F::READ));
    let delete = StorageRequest::delete(&u.account, hashes(), &s).unwrap();
    assert_eq!(delete.required_subaccount_flags(), Some(F::DELETE));
    assert_eq!(StorageRequest::info().required_subaccount_flags(), None);
}
