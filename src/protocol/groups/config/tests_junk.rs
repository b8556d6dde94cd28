//! Junk fed to the config parsers and the merge: errors, never panics.

use proptest::prelude::*;

use super::info::GroupInfo;
use super::members::members_from_data;
use super::*;
use crate::protocol::bencode::BtValue;
use crate::protocol::keys::Ed25519PublicKey;

fn arb_bt() -> impl Strategy<Value = BtValue> {
    let leaf = prop_oneof![
        prop_oneof![
            Just(Vec::new()),
            Just(b"-".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..40)
        ]
        .prop_map(BtValue::Bytes),
        prop_oneof![any::<i64>(), -3i64..20].prop_map(BtValue::Int),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(BtValue::List),
            proptest::collection::btree_map(
                prop_oneof![
                    Just(b"#".to_vec()),
                    Just(b"&".to_vec()),
                    Just(b"<".to_vec()),
                    Just(b"=".to_vec()),
                    Just(b"~".to_vec()),
                    Just(b"m".to_vec()),
                    Just(b"n".to_vec()),
                    proptest::collection::vec(any::<u8>(), 0..34),
                ],
                inner,
                0..6
            )
            .prop_map(BtValue::Dict),
        ]
    })
}

/// A dict shaped like a config message, with junk inside.
fn arb_message() -> impl Strategy<Value = Vec<u8>> {
    (any::<i64>(), arb_bt(), arb_bt(), arb_bt(), any::<bool>()).prop_map(
        |(seqno, data, lagged, diff, sign)| {
            let mut top = std::collections::BTreeMap::new();
            top.insert(b"#".to_vec(), BtValue::Int(seqno % 50));
            top.insert(b"&".to_vec(), data);
            top.insert(b"<".to_vec(), lagged);
            top.insert(b"=".to_vec(), diff);
            if sign {
                top.insert(b"~".to_vec(), BtValue::Bytes(vec![0; 64]));
            }
            BtValue::Dict(top).encode()
        },
    )
}

fn exercise(raw: &[u8]) {
    let key = Ed25519PublicKey::from_bytes([0x11; 32]);
    let _ = ConfigMessage::parse(raw, Some(&key));
    if let Ok(m) = ConfigMessage::parse(raw, None) {
        let _ = GroupInfo::from_data(m.data());
        let _ = members_from_data(m.data());
        let again = m.increment().finish(None);
        assert!(ConfigMessage::parse(again.as_bytes(), None).is_ok());
    }
}

proptest! {
    #[test]
    fn raw_junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        exercise(&bytes);
    }

    #[test]
    fn message_shaped_junk_never_panics(raw in arb_message()) {
        exercise(&raw);
    }

    #[test]
    fn merging_junk_never_panics(raws in proptest::collection::vec(arb_message(), 0..5), can_sign: bool) {
        let refs: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
        if let Ok(MergeOutcome::Merged(m)) = merge(&refs, None, can_sign) {
            let written = m.finish(None);
            prop_assert!(ConfigMessage::parse(written.as_bytes(), None).is_ok());
        }
        let key = Ed25519PublicKey::from_bytes([0x22; 32]);
        let _ = merge(&refs, Some(&key), can_sign);
    }
}

proptest! {
    #[test]
    fn opening_junk_never_panics(plain in proptest::collection::vec(prop_oneof![Just(0u8), Just(b'z'), Just(b'm'), Just(b'd'), any::<u8>()], 0..300)) {
        let key = [5u8; 32];
        let sealed = crate::protocol::groups::config_encrypt::encrypt_config(&plain, &key, "groups::Info").unwrap();
        let _ = open_config(&sealed, &[key], ConfigKind::GroupInfo);
        let _ = open_config(&plain, &[key], ConfigKind::GroupInfo);
    }
}
