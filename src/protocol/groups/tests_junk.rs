//! Junk fed to every groups parser and decrypter: errors, never panics.

use super::config_encrypt::{self, decrypt_config, encrypt_config};
use super::multi_encrypt::*;
use super::subaccount::*;
use super::swarm_auth::*;
use crate::protocol::bencode::BtValue;
use crate::protocol::keys::{Identity, Seed, X25519PublicKey};
use crate::protocol::storage::{AccountId, Namespace, SubaccountFlags, SubaccountToken};
use ed25519_dalek::Signature;
use proptest::prelude::*;

proptest! {
    #[test]
    fn auth_data_junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 100), own: [u8; 32], group_pk: [u8; 32]) {
        let auth = MemberAuthData::try_from(&bytes[..]).unwrap();
        let own_key = crate::protocol::keys::Ed25519PublicKey::from_bytes(own);
        let group_key = crate::protocol::keys::Ed25519PublicKey::from_bytes(group_pk);
        let _ = auth.verify(&group_key, &own_key, SubaccountFlags::READ);
        let member = Identity::from_seed(Seed::from_bytes(own));
        if let Ok(signer) = MemberSubaccount::new(&member, &auth) {
            let _ = signer.sign(b"m");
        }
    }

    #[test]
    fn swarm_auth_junk_never_panics(key: [u8; 32], token: [u8; 36], sig: [u8; 64], ns: i16, revoked: bool) {
        let account = AccountId::new(3, key);
        let token = SubaccountToken::from_bytes(token);
        let sig = Signature::from_bytes(&sig);
        for sub in [None, Some((&token, &sig))] {
            let auth = GroupRequestAuth { signature: &sig, subaccount: sub };
            let _ = verify_group_request(&account, GroupMethod::Store, Namespace(ns), auth, b"m", |_| revoked);
        }
    }

    #[test]
    fn multi_decrypt_junk_never_panics(container in proptest::collection::vec(any::<u8>(), 0..200), sender: [u8; 32]) {
        let own = Identity::from_seed(Seed::from_bytes([3; 32]));
        let sender = X25519PublicKey::from_bytes(sender);
        let _ = decrypt_simple(&container, &own, &sender, b"d");
        let _ = decrypt_for_multiple([&container[..]], &[0; 24], &own, &sender, b"d");
    }

    #[test]
    fn bencoded_containers_never_panic(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..5), nonce in proptest::collection::vec(any::<u8>(), 20..28)) {
        let mut dict = std::collections::BTreeMap::new();
        dict.insert(b"#".to_vec(), BtValue::Bytes(nonce));
        dict.insert(b"e".to_vec(), BtValue::List(entries.into_iter().map(BtValue::Bytes).collect()));
        let own = Identity::from_seed(Seed::from_bytes([3; 32]));
        let _ = decrypt_simple(&BtValue::Dict(dict).encode(), &own, &own.x25519_public(), b"d");
    }

    #[test]
    fn config_decrypt_junk_never_panics(data in proptest::collection::vec(any::<u8>(), 0..120), key: [u8; 32], domain in "[a-z:]{0,30}") {
        let _ = decrypt_config(&data, &key, &domain);
    }

    #[test]
    fn config_round_trip(data in proptest::collection::vec(any::<u8>(), 0..300), key: [u8; 32]) {
        let sealed = encrypt_config(&data, &key, "groups::Info").unwrap();
        prop_assert_eq!(sealed.len(), data.len() + config_encrypt::CONFIG_OVERHEAD);
        prop_assert_eq!(decrypt_config(&sealed, &key, "groups::Info").unwrap(), data);
    }
}
