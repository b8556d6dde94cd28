//! The exact bytes signed by clients (§4.4) and by service nodes in swarm responses (§4.6).
//!
//! Every signed message is its parts concatenated as raw bytes without separators; integers are
//! decimal ASCII, timestamps integer milliseconds (SS `request_handler.cpp
//! concatenate_sig_message_parts`). Clients sign with the account's Ed25519 key (for `05`
//! accounts the key sent as `pubkey_ed25519`, for `03` groups the group key) or a subaccount key;
//! nodes sign their own swarm entry with their Ed25519 key.

use std::collections::BTreeMap;

use super::{AccountId, MessageHash, Namespace, NamespaceSelector, SubaccountToken};

/// Which way an `expire` request may move expiries (`shorten`/`extend` params, §4.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ExpireMode {
    /// Set the expiry whatever it was (`""` in the signed string).
    #[default]
    Any,
    /// Only make expiries earlier (`"shorten"`, param `shorten: true`).
    Shorten,
    /// Only make expiries later (`"extend"`, param `extend: true`).
    Extend,
}

impl ExpireMode {
    /// The `SE` part of the signed string.
    pub const fn signing_text(self) -> &'static str {
        match self {
            Self::Any => "",
            Self::Shorten => "shorten",
            Self::Extend => "extend",
        }
    }
}

struct Message(Vec<u8>);

impl Message {
    fn new(method: &str) -> Self {
        Self(method.as_bytes().to_vec())
    }
    fn text(mut self, text: &str) -> Self {
        self.0.extend_from_slice(text.as_bytes());
        self
    }
    fn int(self, value: u64) -> Self {
        self.text(&value.to_string())
    }
    fn hashes<'a>(mut self, hashes: impl IntoIterator<Item = &'a MessageHash>) -> Self {
        for hash in hashes {
            self.0.extend_from_slice(hash.as_str().as_bytes());
        }
        self
    }
    fn tokens(mut self, tokens: &[SubaccountToken]) -> Self {
        for token in tokens {
            self.0.extend_from_slice(token.as_bytes());
        }
        self
    }
}

// ---- Requests (§4.4) ----------------------------------------------------------------------------

/// `"store" NS sig_ts`; only non-public-inbox namespaces are signed.
pub fn store_message(ns: Namespace, sig_timestamp_ms: u64) -> Vec<u8> {
    Message::new("store")
        .text(&ns.signing_text())
        .int(sig_timestamp_ms)
        .0
}

/// `"retrieve" NS timestamp`.
pub fn retrieve_message(ns: Namespace, timestamp_ms: u64) -> Vec<u8> {
    Message::new("retrieve")
        .text(&ns.signing_text())
        .int(timestamp_ms)
        .0
}

/// `"delete" hash0 hash1 …` in request order.
pub fn delete_message(hashes: &[MessageHash]) -> Vec<u8> {
    Message::new("delete").hashes(hashes).0
}

/// `"delete_all" NSV timestamp`.
pub fn delete_all_message(ns: NamespaceSelector, timestamp_ms: u64) -> Vec<u8> {
    Message::new("delete_all")
        .text(&ns.signing_text())
        .int(timestamp_ms)
        .0
}

/// `"delete_before" NSV before`.
pub fn delete_before_message(ns: NamespaceSelector, before_ms: u64) -> Vec<u8> {
    Message::new("delete_before")
        .text(&ns.signing_text())
        .int(before_ms)
        .0
}

/// `"expire_all" NSV expiry`.
pub fn expire_all_message(ns: NamespaceSelector, expiry_ms: u64) -> Vec<u8> {
    Message::new("expire_all")
        .text(&ns.signing_text())
        .int(expiry_ms)
        .0
}

/// `"expire" SE EXP hash0 hash1 …`; `EXP` is the single expiry or all of them concatenated, as
/// requested (before the server caps them).
pub fn expire_message(mode: ExpireMode, expiries_ms: &[u64], hashes: &[MessageHash]) -> Vec<u8> {
    let mut message = Message::new("expire").text(mode.signing_text());
    for expiry in expiries_ms {
        message = message.int(*expiry);
    }
    message.hashes(hashes).0
}

/// `"get_expiries" timestamp hash0 hash1 …`.
pub fn get_expiries_message(timestamp_ms: u64, hashes: &[MessageHash]) -> Vec<u8> {
    Message::new("get_expiries")
        .int(timestamp_ms)
        .hashes(hashes)
        .0
}

/// `"revoke_subaccount" timestamp token0 token1 …` with the raw 36-byte tokens.
pub fn revoke_subaccount_message(timestamp_ms: u64, tokens: &[SubaccountToken]) -> Vec<u8> {
    Message::new("revoke_subaccount")
        .int(timestamp_ms)
        .tokens(tokens)
        .0
}

/// `"unrevoke_subaccount" timestamp token0 token1 …` with the raw 36-byte tokens.
pub fn unrevoke_subaccount_message(timestamp_ms: u64, tokens: &[SubaccountToken]) -> Vec<u8> {
    Message::new("unrevoke_subaccount")
        .int(timestamp_ms)
        .tokens(tokens)
        .0
}

// ---- Node responses (§4.6) -----------------------------------------------------------------------

/// A `store` entry signs the message hash as ASCII.
pub fn store_response_message(hash: &MessageHash) -> Vec<u8> {
    hash.as_str().as_bytes().to_vec()
}

/// A `delete` entry: `PUBKEY_HEX ‖ requested hashes (request order) ‖ deleted hashes (sorted)`.
pub fn delete_response_message(
    account: &AccountId,
    requested: &[MessageHash],
    deleted_sorted: &[MessageHash],
) -> Vec<u8> {
    Message::new(&account.to_hex())
        .hashes(requested)
        .hashes(deleted_sorted)
        .0
}

/// A `delete_all` entry: `PUBKEY_HEX ‖ timestamp ‖ deleted hashes`, totally sorted (also when
/// `"all"` namespaces were deleted).
pub fn delete_all_response_message(
    account: &AccountId,
    timestamp_ms: u64,
    deleted_sorted: &[MessageHash],
) -> Vec<u8> {
    Message::new(&account.to_hex())
        .int(timestamp_ms)
        .hashes(deleted_sorted)
        .0
}

/// A `delete_before` entry: `PUBKEY_HEX ‖ before ‖ deleted hashes (sorted)`.
pub fn delete_before_response_message(
    account: &AccountId,
    before_ms: u64,
    deleted_sorted: &[MessageHash],
) -> Vec<u8> {
    Message::new(&account.to_hex())
        .int(before_ms)
        .hashes(deleted_sorted)
        .0
}

/// An `expire_all` entry: `PUBKEY_HEX ‖ expiry ‖ updated hashes (sorted)`.
pub fn expire_all_response_message(
    account: &AccountId,
    expiry_ms: u64,
    updated_sorted: &[MessageHash],
) -> Vec<u8> {
    Message::new(&account.to_hex())
        .int(expiry_ms)
        .hashes(updated_sorted)
        .0
}

/// An `expire` entry: `PUBKEY_HEX ‖ EXPIRY ‖ requested ‖ updated (sorted) ‖ (hash ‖ expiry) for
/// each unchanged message, by hash`.
///
/// `EXPIRY` is, for a single requested expiry, the one the node tried to apply (capped at now +
/// 30 d) even when nothing changed; for several, the applied expiries of the updated messages in
/// the order of `updated_sorted`. `unchanged` is empty unless `shorten` or `extend` was given.
pub fn expire_response_message(
    account: &AccountId,
    expiries_ms: &[u64],
    requested: &[MessageHash],
    updated_sorted: &[MessageHash],
    unchanged: &BTreeMap<MessageHash, u64>,
) -> Vec<u8> {
    let mut message = Message::new(&account.to_hex());
    for expiry in expiries_ms {
        message = message.int(*expiry);
    }
    message = message.hashes(requested).hashes(updated_sorted);
    for (hash, expiry) in unchanged {
        message = message.hashes([hash]).int(*expiry);
    }
    message.0
}

/// A `revoke_subaccount` or `unrevoke_subaccount` entry: `PUBKEY_HEX ‖ timestamp ‖ tokens…`.
pub fn revoke_response_message(
    account: &AccountId,
    timestamp_ms: u64,
    tokens: &[SubaccountToken],
) -> Vec<u8> {
    Message::new(&account.to_hex())
        .int(timestamp_ms)
        .tokens(tokens)
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: char) -> MessageHash {
        MessageHash::parse(&c.to_string().repeat(43)).unwrap()
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        #[allow(dead_code)] // provenance, read by people
        source: String,
        method: String,
        namespace: NamespaceSelector,
        timestamp: u64,
        expected: String,
    }

    #[derive(serde::Deserialize)]
    struct File {
        vectors: Vec<Vector>,
    }

    #[test]
    fn vector_file() {
        let file: File =
            serde_json::from_str(include_str!("../../../tests/vectors/storage_signing.json"))
                .unwrap();
        assert_eq!(file.vectors.len(), 5);
        for v in file.vectors {
            let one = |sel| match sel {
                NamespaceSelector::One(ns) => ns,
                NamespaceSelector::All => panic!("{} takes one namespace", v.method),
            };
            let got = match v.method.as_str() {
                "retrieve" => retrieve_message(one(v.namespace), v.timestamp),
                "store" => store_message(one(v.namespace), v.timestamp),
                "delete_all" => delete_all_message(v.namespace, v.timestamp),
                other => panic!("no harness for {other}"),
            };
            assert_eq!(got, v.expected.as_bytes(), "{}", v.expected);
        }
    }

    #[test]
    fn examples_of_section_4_4() {
        assert_eq!(
            retrieve_message(Namespace(0), 1700000000000),
            b"retrieve1700000000000"
        );
        assert_eq!(
            retrieve_message(Namespace(-11), 1700000000000),
            b"retrieve-111700000000000"
        );
        assert_eq!(
            store_message(Namespace(2), 1700000000000),
            b"store21700000000000"
        );
    }

    #[test]
    fn every_request_string() {
        let (a, b) = (h('a'), h('b'));
        let hashes = [a.clone(), b.clone()];
        let joined = format!("{}{}", a, b);
        assert_eq!(
            delete_message(&hashes),
            format!("delete{joined}").as_bytes()
        );
        assert_eq!(
            delete_all_message(NamespaceSelector::All, 5),
            b"delete_allall5"
        );
        assert_eq!(
            delete_all_message(NamespaceSelector::default(), 5),
            b"delete_all5"
        );
        assert_eq!(
            delete_all_message(NamespaceSelector::One(Namespace(11)), 5),
            b"delete_all115"
        );
        assert_eq!(
            delete_before_message(NamespaceSelector::All, 7),
            b"delete_beforeall7"
        );
        assert_eq!(
            expire_all_message(NamespaceSelector::One(Namespace(-10)), 9),
            b"expire_all-109"
        );
        assert_eq!(
            expire_message(ExpireMode::Shorten, &[1700000000000], &hashes),
            format!("expireshorten1700000000000{joined}").as_bytes()
        );
        assert_eq!(
            expire_message(ExpireMode::Any, &[1, 22], &hashes),
            format!("expire122{joined}").as_bytes()
        );
        assert_eq!(
            expire_message(ExpireMode::Extend, &[3], &[]),
            b"expireextend3"
        );
        assert_eq!(
            get_expiries_message(12, &hashes),
            format!("get_expiries12{joined}").as_bytes()
        );
        let token = SubaccountToken::from_bytes([0xab; 36]);
        let mut want = b"revoke_subaccount42".to_vec();
        want.extend_from_slice(&[0xab; 36]);
        assert_eq!(revoke_subaccount_message(42, &[token]), want);
        let mut want = b"unrevoke_subaccount42".to_vec();
        want.extend_from_slice(&[0xab; 36]);
        assert_eq!(unrevoke_subaccount_message(42, &[token]), want);
    }

    #[test]
    fn every_response_string() {
        let account = AccountId::new(5, [0x11; 32]);
        let pk = account.to_hex();
        let (a, b, c) = (h('a'), h('b'), h('c'));
        assert_eq!(store_response_message(&a), a.as_str().as_bytes());
        assert_eq!(
            delete_response_message(&account, &[b.clone(), a.clone()], std::slice::from_ref(&a)),
            format!("{pk}{b}{a}{a}").as_bytes()
        );
        assert_eq!(
            delete_all_response_message(&account, 10, &[a.clone(), b.clone()]),
            format!("{pk}10{a}{b}").as_bytes()
        );
        assert_eq!(
            delete_before_response_message(&account, 11, &[]),
            format!("{pk}11").as_bytes()
        );
        assert_eq!(
            expire_all_response_message(&account, 12, std::slice::from_ref(&c)),
            format!("{pk}12{c}").as_bytes()
        );
        let unchanged = BTreeMap::from([(c.clone(), 99), (b.clone(), 98)]);
        assert_eq!(
            expire_response_message(
                &account,
                &[50],
                &[a.clone(), b.clone(), c.clone()],
                std::slice::from_ref(&a),
                &unchanged
            ),
            format!("{pk}50{a}{b}{c}{a}{b}98{c}99").as_bytes()
        );
        let token = SubaccountToken::from_bytes([1; 36]);
        let mut want = format!("{pk}13").into_bytes();
        want.extend_from_slice(&[1; 36]);
        assert_eq!(revoke_response_message(&account, 13, &[token]), want);
    }
}
