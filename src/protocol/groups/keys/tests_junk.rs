//! Junk fed to the keys message parser and loader: errors, never panics (§2.3).

use proptest::prelude::*;

use super::*;
use crate::protocol::bencode::BtValue;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{Identity, Seed};

fn group() -> GroupSecret {
    GroupSecret::from_seed(Seed::from_bytes([9; 32]))
}

proptest! {
    #[test]
    fn keys_message_junk_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let group = group();
        let me = Identity::from_seed(Seed::from_bytes([1; 32]));
        let mut keys = GroupKeys::new(group.public());
        let _ = keys.load("h", &data, 1, KeysReader::Member(&me));
        let _ = keys.load("h", &data, 1, KeysReader::Admin(&group));
    }

    #[test]
    fn signed_junk_dicts_never_panic(
        nonce in proptest::collection::vec(any::<u8>(), 20..28),
        entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 40..80), 0..3),
        generation in -2i64..3,
        supplemental: bool,
    ) {
        // Well-signed but otherwise arbitrary content: reaches every field check.
        let group = group();
        let mut dict = std::collections::BTreeMap::new();
        dict.insert(b"#".to_vec(), BtValue::Bytes(nonce));
        dict.insert(b"G".to_vec(), BtValue::Int(generation));
        let list = BtValue::List(entries.into_iter().map(BtValue::Bytes).collect());
        if supplemental {
            dict.insert(b"+".to_vec(), list);
        } else {
            dict.insert(b"K".to_vec(), BtValue::Bytes(vec![0; 48]));
            dict.insert(b"k".to_vec(), list);
        }
        let raw = signed(&group, dict);
        let me = Identity::from_seed(Seed::from_bytes([1; 32]));
        let mut keys = GroupKeys::new(group.public());
        let _ = keys.load("h", &raw, 1, KeysReader::Member(&me));
        let _ = keys.load("h", &raw, 1, KeysReader::Admin(&group));
    }
}

/// `dict` signed by `group` as keys messages are (§2.1).
fn signed(group: &GroupSecret, dict: std::collections::BTreeMap<Vec<u8>, BtValue>) -> Vec<u8> {
    let mut raw = BtValue::Dict(dict).encode();
    raw.pop();
    let sig = group.sign(&raw);
    raw.extend_from_slice(b"1:~64:");
    raw.extend_from_slice(&sig);
    raw.push(b'e');
    raw
}

/// A real rekey's fields, re-signed after `edit`.
fn edited_rekey(edit: impl FnOnce(&mut std::collections::BTreeMap<Vec<u8>, BtValue>)) -> Vec<u8> {
    let group = group();
    let me = Identity::from_seed(Seed::from_bytes([1; 32]));
    let rekey = build_rekey(&group, &[me.session_id()], 0).unwrap();
    let BtValue::Dict(mut dict) = BtValue::decode(&rekey.message).unwrap() else {
        panic!("dict")
    };
    dict.remove(&b"~"[..]);
    edit(&mut dict);
    signed(&group, dict)
}

#[test]
fn unknown_keys_are_tolerated_and_padding_is_enforced() {
    let group = group();
    let me = Identity::from_seed(Seed::from_bytes([1; 32]));
    let load =
        |raw: &[u8]| GroupKeys::new(group.public()).load("h", raw, 1, KeysReader::Member(&me));
    let extra = edited_rekey(|d| {
        d.insert(b"x".to_vec(), BtValue::Int(1));
    });
    assert_eq!(load(&extra), Ok(true));
    let short = edited_rekey(|d| {
        if let Some(BtValue::List(entries)) = d.get_mut(&b"k"[..]) {
            entries.pop();
        }
    });
    assert_eq!(load(&short), Err(KeysError::Padding(74)));
    let negative = edited_rekey(|d| {
        d.insert(b"G".to_vec(), BtValue::Int(-1));
    });
    assert_eq!(load(&negative), Err(KeysError::NegativeGeneration));
    let no_admin_key = edited_rekey(|d| {
        d.remove(&b"K"[..]);
    });
    assert_eq!(load(&no_admin_key), Err(KeysError::Field("K")));
    let mut after_signature = extra.clone();
    after_signature.pop();
    after_signature.extend_from_slice(b"1:\x7fi1ee");
    assert_eq!(load(&after_signature), Err(KeysError::MissingSignature));
}
