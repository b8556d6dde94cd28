//! Vectors of groups.md §8 (`tests/vectors/groups.json`), §4.5 rules, and junk tests.

use super::config_encrypt::{decrypt_config, encrypt_config, ConfigEncryptError};
use super::multi_encrypt::*;
use super::subaccount::*;
use super::swarm_auth::*;
use super::*;
use crate::protocol::keys::{SessionId, X25519PublicKey};
use crate::protocol::storage::{
    AccountId, Namespace, SubaccountCheckError, SubaccountFlags, VerifyError,
};
use crate::protocol::vectors::{hex_array, load, unhex, Source};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::Signature;
use rand::SeedableRng;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    description: String,
    subaccount: SubaccountVector,
    multi_encrypt: MultiVector,
    config_encrypt: ConfigVector,
    group_keys: Vec<GroupKeyVector>,
    session_ids: Vec<SessionIdVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubaccountVector {
    source: Source,
    group_seed: String,
    admin_seed: String,
    admin_session_id: String,
    member_seed: String,
    member_session_id: String,
    group_id: String,
    flags: u8,
    message_utf8: String,
    subaccount: String,
    subaccount_sig: String,
    signature: String,
    auth_data: String,
    auth_data_source: Source,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MultiVector {
    source: Source,
    keys: Vec<KeyVector>,
    nonce: String,
    domain: String,
    sender: usize,
    recipients: Vec<usize>,
    outsider: usize,
    cases: Vec<MultiCase>,
    simple_container: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyVector {
    seed: String,
    x25519_pk: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MultiCase {
    messages: Vec<String>,
    entries: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigVector {
    source: Source,
    message_utf8: String,
    key_base: String,
    cases: Vec<ConfigCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigCase {
    domain: String,
    ciphertext: Option<String>,
    nonce: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupKeyVector {
    source: Source,
    seed: String,
    public_key: String,
    group_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionIdVector {
    source: Source,
    name: String,
    seed: String,
    session_id: String,
}

fn file() -> File {
    let file: File = load(include_str!("../../../tests/vectors/groups.json"));
    assert!(file.description.contains("§8"));
    file
}

fn identity(seed: &str) -> Identity {
    Identity::from_seed(Seed::from_bytes(hex_array(seed)))
}

fn group(seed: &str) -> GroupSecret {
    GroupSecret::from_seed(Seed::from_bytes(hex_array(seed)))
}

#[test]
fn group_seeds_and_session_ids() {
    let file = file();
    assert_eq!(file.group_keys.len(), 2);
    for v in file.group_keys {
        v.source.check();
        let g = group(&v.seed);
        assert_eq!(g.public().to_string(), v.public_key);
        assert_eq!(g.id().to_string(), v.group_id);
    }
    assert_eq!(file.session_ids.len(), 6);
    for v in file.session_ids {
        v.source.check();
        assert_eq!(
            identity(&v.seed).session_id().to_string(),
            v.session_id,
            "{}",
            v.name
        );
    }
}

#[test]
fn subaccount_swarm_authentication() {
    let v = file().subaccount;
    v.source.check();
    v.auth_data_source.check();
    let g = group(&v.group_seed);
    assert_eq!(g.id().to_string(), v.group_id);
    assert_eq!(
        identity(&v.admin_seed).session_id().to_string(),
        v.admin_session_id
    );
    let member = identity(&v.member_seed);
    let member_sid: SessionId = v.member_session_id.parse().unwrap();
    assert_eq!(member.session_id(), member_sid);
    let flags = SubaccountFlags(v.flags);

    // Admin side: the grant and the token, without the member's secrets.
    let auth = MemberAuthData::new(&g, &member_sid, flags).unwrap();
    assert_eq!(hex::encode(auth.as_bytes()), v.auth_data);
    let token = subaccount_token(&g, &member_sid, flags).unwrap();
    assert_eq!(token.to_base64(), v.subaccount);

    // Member side: verify the grant, then sign.
    auth.verify(
        &g.public(),
        &member.ed25519_public(),
        SubaccountFlags::WRITE,
    )
    .unwrap();
    let signer = MemberSubaccount::new(&member, &auth).unwrap();
    assert_eq!(*signer.token(), token);
    assert_eq!(
        STANDARD.encode(signer.token_signature().to_bytes()),
        v.subaccount_sig
    );
    let message = v.message_utf8.as_bytes();
    let signature = signer.sign(message);
    assert_eq!(STANDARD.encode(signature), v.signature);

    // Storage server side (§4.5): accepted for retrieve, with the member's flags.
    let account = AccountId::new(0x03, *g.public().as_bytes());
    let sig = Signature::from_bytes(&signature);
    let token_sig = *signer.token_signature();
    let request = GroupRequestAuth {
        signature: &sig,
        subaccount: Some((&token, &token_sig)),
    };
    let ns = Namespace::GROUP_MESSAGES;
    assert_eq!(
        verify_group_request(
            &account,
            GroupMethod::Retrieve,
            ns,
            request,
            message,
            |_| false
        ),
        Ok(GroupAuthority::Member(flags))
    );
    assert_eq!(
        verify_group_request(&account, GroupMethod::Delete, ns, request, message, |_| {
            false
        }),
        Err(SwarmAuthError::Verify(VerifyError::Subaccount(
            SubaccountCheckError::MissingPermission
        )))
    );
    assert_eq!(
        verify_group_request(
            &account,
            GroupMethod::Retrieve,
            ns,
            request,
            message,
            |_| true
        ),
        Err(SwarmAuthError::Revoked)
    );
    // A kicked member can still read −11.
    let kicked = Namespace::REVOKED_RETRIEVABLE;
    assert!(verify_group_request(
        &account,
        GroupMethod::Retrieve,
        kicked,
        request,
        message,
        |_| true
    )
    .is_ok());
    assert_eq!(
        verify_group_request(
            &account,
            GroupMethod::RevokeSubaccount,
            ns,
            request,
            message,
            |_| false
        ),
        Err(SwarmAuthError::SubaccountNotAllowed)
    );
    assert_eq!(
        verify_group_request(
            &account,
            GroupMethod::Expire { shorten: true },
            ns,
            request,
            message,
            |_| false
        ),
        Err(SwarmAuthError::ShortenDenied)
    );
    assert!(verify_group_request(
        &account,
        GroupMethod::Retrieve,
        ns,
        request,
        b"other",
        |_| false
    )
    .is_err());
    // The admin signs with the group key.
    let admin_sig = Signature::from_bytes(&g.sign(message));
    let admin = GroupRequestAuth {
        signature: &admin_sig,
        subaccount: None,
    };
    assert_eq!(
        verify_group_request(
            &account,
            GroupMethod::RevokeSubaccount,
            ns,
            admin,
            message,
            |_| true
        ),
        Ok(GroupAuthority::Admin)
    );
}

#[test]
fn subaccount_bit_flips_fail() {
    let v = file().subaccount;
    let g = group(&v.group_seed);
    let member = identity(&v.member_seed);
    let auth = MemberAuthData::try_from(&unhex(&v.auth_data)[..]).unwrap();
    auth.verify(&g.public(), &member.ed25519_public(), SubaccountFlags::NONE)
        .unwrap();
    for i in 0..MEMBER_AUTH_DATA_BYTES {
        for bit in 0..8 {
            if i == 35 && bit == 7 {
                continue; // the top bit of k, ignored by the noclamp multiplication
            }
            let mut bytes = *auth.as_bytes();
            bytes[i] ^= 1 << bit;
            let flipped = MemberAuthData::try_from(&bytes[..]).unwrap();
            assert!(
                flipped
                    .verify(&g.public(), &member.ed25519_public(), SubaccountFlags::NONE)
                    .is_err(),
                "byte {i} bit {bit}"
            );
        }
    }
    let read_only = MemberAuthData::new(&g, &member.session_id(), SubaccountFlags::READ).unwrap();
    assert_eq!(
        read_only.verify(
            &g.public(),
            &member.ed25519_public(),
            SubaccountFlags::WRITE
        ),
        Err(SubaccountError::MissingPermission)
    );
    assert_eq!(
        MemberAuthData::try_from(&[0u8; 99][..]),
        Err(SubaccountError::Length)
    );
}

#[test]
fn subaccount_signs_for_negative_keys_too() {
    // Members whose Ed25519 key has the sign bit set negate t (§4.4); both kinds verify.
    let g = group("0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut seen = [false; 2];
    while seen != [true; 2] {
        let member = Identity::generate(&mut rng);
        seen[usize::from(member.ed25519_public().as_bytes()[31] >> 7)] = true;
        let auth = MemberAuthData::new(&g, &member.session_id(), SubaccountFlags::READ).unwrap();
        let signer = MemberSubaccount::new(&member, &auth).unwrap();
        let key = crate::protocol::keys::Ed25519PublicKey::from_bytes(signer.token().pubkey());
        key.verify(b"retrieve111", &signer.sign(b"retrieve111"))
            .unwrap();
    }
}

#[test]
fn multi_recipient_encryption() {
    let v = file().multi_encrypt;
    v.source.check();
    let ids: Vec<Identity> = v.keys.iter().map(|k| identity(&k.seed)).collect();
    for (id, k) in ids.iter().zip(&v.keys) {
        assert_eq!(id.x25519_public().to_string(), k.x25519_pk);
    }
    let nonce: [u8; 24] = hex_array(&v.nonce);
    let domain = v.domain.as_bytes();
    let sender = &ids[v.sender];
    let sender_pk = sender.x25519_public();
    let recipients: Vec<X25519PublicKey> = v
        .recipients
        .iter()
        .map(|&i| ids[i].x25519_public())
        .collect();
    assert_eq!(v.cases.len(), 2);
    for case in &v.cases {
        let messages: Vec<&[u8]> = case.messages.iter().map(|m| m.as_bytes()).collect();
        let entries = encrypt_for_multiple(&messages, &recipients, &nonce, sender, domain).unwrap();
        let hexes: Vec<String> = entries.iter().map(hex::encode).collect();
        assert_eq!(hexes, case.entries);
        let slices = || entries.iter().map(Vec::as_slice);
        for (n, &r) in v.recipients.iter().enumerate() {
            let expected = case.messages.get(n).unwrap_or(&case.messages[0]);
            let opened =
                decrypt_for_multiple(slices(), &nonce, &ids[r], &sender_pk, domain).unwrap();
            assert_eq!(opened, expected.as_bytes());
            assert_eq!(
                decrypt_for_multiple(slices(), &nonce, &ids[r], &sender_pk, b"not test suite"),
                Err(MultiEncryptError::NotForUs)
            );
        }
        assert_eq!(
            decrypt_for_multiple(slices(), &nonce, &ids[v.outsider], &sender_pk, domain),
            Err(MultiEncryptError::NotForUs)
        );
    }
    // The simple container with the three-message entries.
    let mut expected = Vec::new();
    for (i, part) in v.simple_container.split(['{', '}']).enumerate() {
        match (i % 2, part) {
            (0, text) => expected.extend_from_slice(text.as_bytes()),
            (_, "nonce") => expected.extend_from_slice(&nonce),
            (_, e) => {
                let index: usize = e[1..].parse().unwrap();
                expected.extend(unhex(&v.cases[1].entries[index]));
            }
        }
    }
    let messages: Vec<&[u8]> = v.cases[1].messages.iter().map(|m| m.as_bytes()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let container =
        encrypt_simple(&messages, &recipients, &nonce, sender, domain, 0, &mut rng).unwrap();
    assert_eq!(container, expected);
    let opened = decrypt_simple(&container, &ids[v.recipients[1]], &sender_pk, domain).unwrap();
    assert_eq!(opened, b"cruel");
    // Padding to 4 entries of the first entry's size, still decryptable.
    let padded = encrypt_simple(
        &messages[..1],
        &recipients,
        &nonce,
        sender,
        domain,
        4,
        &mut rng,
    )
    .unwrap();
    let BtValue::Dict(dict) = BtValue::decode(&padded).unwrap() else {
        panic!("not a dict")
    };
    let Some(BtValue::List(entries)) = dict.get(&b"e"[..]) else {
        panic!("no entries")
    };
    assert_eq!(entries.len(), 4);
    assert!(entries
        .iter()
        .all(|e| e.as_bytes().unwrap().len() == 5 + TAG_BYTES));
    let opened = decrypt_simple(&padded, &ids[v.recipients[2]], &sender_pk, domain).unwrap();
    assert_eq!(opened, b"hello");
    assert_eq!(
        encrypt_for_multiple(&messages[..2], &recipients, &nonce, sender, domain),
        Err(MultiEncryptError::MessageCount)
    );
}

use crate::protocol::bencode::BtValue;

#[test]
fn config_encryption() {
    let v = file().config_encrypt;
    v.source.check();
    let key: [u8; 32] = hex_array(&v.key_base);
    let message = v.message_utf8.as_bytes();
    assert_eq!(v.cases.len(), 2);
    for case in &v.cases {
        let out = encrypt_config(message, &key, &case.domain).unwrap();
        assert_eq!(hex::encode(&out[out.len() - 24..]), case.nonce);
        if let Some(expected) = &case.ciphertext {
            assert_eq!(hex::encode(&out), *expected);
        }
        assert_eq!(decrypt_config(&out, &key, &case.domain).unwrap(), message);
        assert_eq!(
            decrypt_config(&out, &key, "other"),
            Err(ConfigEncryptError::DecryptionFailed)
        );
    }
    assert_eq!(
        encrypt_config(b"x", &key, ""),
        Err(ConfigEncryptError::Domain)
    );
    assert_eq!(
        encrypt_config(b"x", &key, &"d".repeat(25)),
        Err(ConfigEncryptError::Domain)
    );
    assert!(encrypt_config(b"x", &key, &"d".repeat(24)).is_ok());
    assert_eq!(
        decrypt_config(&[0; 39], &key, "d"),
        Err(ConfigEncryptError::TooShort)
    );
}

#[test]
fn required_flags_follow_section_4_5() {
    use GroupMethod as M;
    let ns = Namespace::GROUP_MESSAGES;
    let f = SubaccountFlags::READ;
    assert_eq!(M::Retrieve.required_flags(ns), Some(f));
    assert_eq!(M::GetExpiries.required_flags(ns), Some(f));
    assert_eq!(M::Store.required_flags(ns), Some(SubaccountFlags::WRITE));
    assert_eq!(
        M::Store.required_flags(Namespace(-21)),
        Some(SubaccountFlags::WRITE | SubaccountFlags::DELETE)
    );
    assert_eq!(
        M::Expire { shorten: false }.required_flags(ns),
        Some(SubaccountFlags::WRITE)
    );
    for m in [M::Delete, M::DeleteAll, M::DeleteBefore, M::ExpireAll] {
        assert_eq!(m.required_flags(ns), Some(SubaccountFlags::DELETE));
    }
    assert_eq!(M::UnrevokeSubaccount.required_flags(ns), None);
    assert!(M::Retrieve.skips_revocation(Namespace(-11)));
    assert!(M::Retrieve.skips_revocation(Namespace(-111)));
    assert!(!M::Retrieve.skips_revocation(Namespace(11)));
    assert!(!M::Store.skips_revocation(Namespace(-11)));
}
