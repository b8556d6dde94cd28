//! The two keys messages of namespace 12 (groups.md §2.1, §2.2): build (admin), parse and open.
//!
//! ```text
//! full rekey (§2.1)                        supplemental (§2.2)
//! d                                        d
//!   1:#  24:<nonce>                          1:#  24:<nonce>
//!   1:G  i<generation ≥ 0>e                  1:+  l <entry ≥ 68 B>… e   one per recipient
//!   1:K  48:<key sealed for admins>          1:G  i<newest generation>e
//!   1:k  l 48:<entry>… e   (count % 75 == 0) 1:~  64:<signature>
//!   1:~  64:<signature>                    e
//! e
//! ```
//! `~` is an Ed25519 signature by the group key over every byte before `1:~` and must be the
//! last key; other unknown keys are tolerated (LSU skips them). Entries are XChaCha20-Poly1305
//! under the message nonce with `member_key` (module docs): the new key (full) or the bencoded
//! list `l d 1:g i<g>e 1:k 32:<key> 1:t i<ms>e e … e` of every key held, oldest first
//! (supplemental). A full message's `K` holds the key under `seed_hash("SessionGroupKeyAdminKey")`.

use std::collections::BTreeMap;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use zeroize::Zeroizing;

use super::{
    blake2b_192, blake2b_256, blake2b_448, seed_hash, GroupEncKey, KeyInfo, KeysError,
    ADMIN_KEY_HASH_KEY, JUNK_SEED_HASH_KEY, KEY_GEN_HASH_KEY, MEMBER_KEY_DOMAIN,
    MESSAGE_KEY_MULTIPLE, SEED_HASH_KEY,
};
use crate::protocol::bencode::BtValue;
use crate::protocol::groups::multi_encrypt::{
    decrypt_for_multiple, encrypt_for_multiple, MultiEncryptError, NONCE_BYTES, TAG_BYTES,
};
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{Ed25519PublicKey, Identity, SessionId, X25519PublicKey};

/// A sealed key: 32 bytes plus the Poly1305 tag.
pub const SEALED_KEY_BYTES: usize = 32 + TAG_BYTES;
/// The smallest supplemental entry: `d1:k32:…1:gi0e1:ti0ee` (52 bytes) sealed (§2.3).
pub const MIN_SUPPLEMENTAL_ENTRY: usize = 52 + TAG_BYTES;
/// `1:~64:` ‖ signature ‖ the dict's closing `e`.
const SIGNATURE_TAIL: usize = 6 + 64 + 1;
/// libsodium `randombytes_buf_deterministic`'s nonce: ChaCha20-IETF keystream under the seed.
const DRG_NONCE: &[u8; 12] = b"LibsodiumDRG";

/// Who opens a keys message: an admin (holds the group seed, reads `K`) or a member (its own
/// account keys, reads its entry).
#[derive(Debug, Clone, Copy)]
pub enum KeysReader<'a> {
    /// An admin: opens `K` of full messages and ignores member entries.
    Admin(&'a GroupSecret),
    /// A member: looks for its own entry.
    Member(&'a Identity),
}

/// A full rekey as built by an admin: the message to store in namespace 12, and what it
/// carries.
#[derive(Debug, Clone)]
pub struct Rekey {
    /// The signed message.
    pub message: Vec<u8>,
    /// Its generation `G`.
    pub generation: i64,
    /// The new key.
    pub key: GroupEncKey,
}

/// A keys message that parsed and whose signature verified.
#[derive(Debug, Clone)]
pub struct KeysMessage {
    group: Ed25519PublicKey,
    nonce: [u8; NONCE_BYTES],
    kind: KeysKind,
}

/// The two kinds of keys message.
#[derive(Debug, Clone)]
pub enum KeysKind {
    /// A full rekey (§2.1).
    Full {
        /// `G`.
        generation: i64,
        /// `K`.
        admin_key: [u8; SEALED_KEY_BYTES],
        /// `k`, junk included.
        entries: Vec<[u8; SEALED_KEY_BYTES]>,
    },
    /// Supplemental keys (§2.2).
    Supplemental {
        /// `G`: the newest generation the admin held.
        generation: i64,
        /// `+`.
        entries: Vec<Vec<u8>>,
    },
}

/// `h2` (§2.1).
fn h2(group: &GroupSecret) -> Zeroizing<[u8; 32]> {
    seed_hash(group, SEED_HASH_KEY)
}

/// The 66 lowercase hex characters of a Session ID, as the derivations hash them.
fn sid_hex(id: &SessionId) -> String {
    hex::encode(id.to_bytes())
}

/// Seals `plain` for each recipient with `member_key`; recipients whose key gives an all-zero
/// shared secret are skipped, as LSU's "ignore invalid" does.
fn seal_for_members(
    group: &GroupSecret,
    plain: &[u8],
    recipients: &[SessionId],
    nonce: &[u8; NONCE_BYTES],
) -> Result<Vec<Vec<u8>>, KeysError> {
    let mut entries = Vec::with_capacity(recipients.len());
    for id in recipients {
        match encrypt_for_multiple(
            &[plain],
            &[*id.x25519()],
            nonce,
            group.as_identity(),
            MEMBER_KEY_DOMAIN,
        ) {
            Ok(mut one) => entries.append(&mut one),
            Err(MultiEncryptError::BadKey) => {}
            Err(_) => return Err(KeysError::Encryption),
        }
    }
    Ok(entries)
}

/// Encodes `dict` (without `~`), signs the encoded prefix and appends `1:~64:<sig>e`.
fn sign_dict(group: &GroupSecret, dict: BTreeMap<Vec<u8>, BtValue>) -> Vec<u8> {
    let mut out = BtValue::Dict(dict).encode();
    out.pop(); // the closing `e`: `~` sorts after every key written here
    let signature = group.sign(&out);
    out.extend_from_slice(b"1:~64:");
    out.extend_from_slice(&signature);
    out.push(b'e');
    out
}

/// Builds a full rekey message of `generation` for `members` (every member of the Members
/// config, admins included; §2.1). Members are hashed in Members order (sorted by ID),
/// whatever order they come in; duplicates count once.
pub fn build_rekey(
    group: &GroupSecret,
    members: &[SessionId],
    generation: i64,
) -> Result<Rekey, KeysError> {
    if generation < 0 {
        return Err(KeysError::NegativeGeneration);
    }
    let mut members = members.to_vec();
    members.sort_by_key(SessionId::to_bytes);
    members.dedup();
    let hexes: Vec<String> = members.iter().map(sid_hex).collect();
    let generation_text = generation.to_string();
    let h2 = h2(group);
    let mut parts: Vec<&[u8]> = hexes.iter().map(String::as_bytes).collect();
    parts.push(generation_text.as_bytes());
    parts.push(&h2[..]);
    let h1 = Zeroizing::new(blake2b_448(KEY_GEN_HASH_KEY, &parts));
    let mut key = [0u8; 32];
    key.copy_from_slice(&h1[..32]);
    let key = GroupEncKey::from_bytes(key);
    let mut nonce = [0u8; NONCE_BYTES];
    nonce.copy_from_slice(&h1[32..]);

    let admin_key = seed_hash(group, ADMIN_KEY_HASH_KEY);
    let sealed_admin = XChaCha20Poly1305::new((&*admin_key).into())
        .encrypt((&nonce).into(), &key.expose_secret()[..])
        .map_err(|_| KeysError::Encryption)?;
    let mut entries = seal_for_members(group, key.expose_secret(), &members, &nonce)?;
    let short = entries.len() % MESSAGE_KEY_MULTIPLE;
    if short != 0 {
        entries.extend(junk_entries(group, &h1, MESSAGE_KEY_MULTIPLE - short));
    }

    let mut dict = BTreeMap::new();
    dict.insert(b"#".to_vec(), BtValue::Bytes(nonce.to_vec()));
    dict.insert(b"G".to_vec(), BtValue::Int(generation));
    dict.insert(b"K".to_vec(), BtValue::Bytes(sealed_admin));
    dict.insert(
        b"k".to_vec(),
        BtValue::List(entries.into_iter().map(BtValue::Bytes).collect()),
    );
    Ok(Rekey {
        message: sign_dict(group, dict),
        generation,
        key,
    })
}

/// `count` junk entries of 48 bytes: libsodium `randombytes_buf_deterministic` (ChaCha20-IETF
/// keystream, nonce `"LibsodiumDRG"`, counter 0; libsodium `randombytes.c`) seeded with
/// BLAKE2b-256[key = "SessionGroupJunkMembers"](h1 ‖ group secret key (64)).
fn junk_entries(group: &GroupSecret, h1: &[u8; 56], count: usize) -> Vec<Vec<u8>> {
    let public = group.public();
    let seed = Zeroizing::new(blake2b_256(
        JUNK_SEED_HASH_KEY,
        &[h1, group.seed().expose_secret(), public.as_bytes()],
    ));
    let mut junk = vec![0u8; count * SEALED_KEY_BYTES];
    chacha20::ChaCha20::new((&*seed).into(), DRG_NONCE.into()).apply_keystream(&mut junk);
    junk.chunks(SEALED_KEY_BYTES).map(<[u8]>::to_vec).collect()
}

/// The bencoded key list of a supplemental message (§2.2), in the order given.
fn supplemental_list(keys: &[KeyInfo]) -> Zeroizing<Vec<u8>> {
    let list = keys
        .iter()
        .map(|info| {
            let mut dict = BTreeMap::new();
            dict.insert(b"g".to_vec(), BtValue::Int(info.generation));
            dict.insert(
                b"k".to_vec(),
                BtValue::Bytes(info.key.expose_secret().to_vec()),
            );
            dict.insert(b"t".to_vec(), BtValue::Int(info.timestamp_ms));
            BtValue::Dict(dict)
        })
        .collect();
    Zeroizing::new(BtValue::List(list).encode())
}

/// Builds a supplemental keys message giving `keys` (every key held, oldest first) to
/// `recipients` (in the order given; §2.2). `G` is the newest generation among `keys`.
pub fn build_supplement(
    group: &GroupSecret,
    recipients: &[SessionId],
    keys: &[KeyInfo],
) -> Result<Vec<u8>, KeysError> {
    let generation = keys
        .iter()
        .map(|k| k.generation)
        .max()
        .ok_or(KeysError::NothingToSupplement)?;
    let plain = supplemental_list(keys);
    let hexes: Vec<String> = recipients.iter().map(sid_hex).collect();
    let h2 = h2(group);
    let mut parts: Vec<&[u8]> = hexes.iter().map(String::as_bytes).collect();
    parts.push(&plain[..]);
    parts.push(&h2[..]);
    let nonce = blake2b_192(KEY_GEN_HASH_KEY, &parts);
    let entries = seal_for_members(group, &plain, recipients, &nonce)?;
    if entries.is_empty() {
        return Err(KeysError::NothingToSupplement);
    }
    let mut dict = BTreeMap::new();
    dict.insert(b"#".to_vec(), BtValue::Bytes(nonce.to_vec()));
    dict.insert(
        b"+".to_vec(),
        BtValue::List(entries.into_iter().map(BtValue::Bytes).collect()),
    );
    dict.insert(b"G".to_vec(), BtValue::Int(generation));
    Ok(sign_dict(group, dict))
}

impl KeysMessage {
    /// Parses `raw` and verifies its signature with the group key `group` (§2.3). Any
    /// structural fault or a bad or missing signature rejects the whole message.
    pub fn parse(raw: &[u8], group: &Ed25519PublicKey) -> Result<Self, KeysError> {
        let BtValue::Dict(top) = BtValue::decode(raw).map_err(|_| KeysError::NotADict)? else {
            return Err(KeysError::NotADict);
        };
        let nonce: [u8; NONCE_BYTES] = top
            .get(&b"#"[..])
            .and_then(BtValue::as_bytes)
            .and_then(|n| n.try_into().ok())
            .ok_or(KeysError::Field("#"))?;
        let generation = top
            .get(&b"G"[..])
            .and_then(BtValue::as_int)
            .ok_or(KeysError::Field("G"))?;
        let kind = match top.get(&b"+"[..]) {
            Some(list) => parse_supplemental(list, generation)?,
            None => parse_full(&top, generation)?,
        };
        verify_signature(raw, &top, group)?;
        Ok(Self {
            group: *group,
            nonce,
            kind,
        })
    }

    /// The message's generation (`G`): the one its hash is tracked under (§2.3).
    pub fn generation(&self) -> i64 {
        match &self.kind {
            KeysKind::Full { generation, .. } | KeysKind::Supplemental { generation, .. } => {
                *generation
            }
        }
    }

    /// The kind and fields.
    pub fn kind(&self) -> &KeysKind {
        &self.kind
    }

    /// The keys `reader` can open (§2.3): none, the new key (full; stamped `timestamp_ms`) or
    /// the supplemental list. An admin whose `K` does not open, or a supplemental list that
    /// opens but is malformed, is an error.
    pub fn open(
        &self,
        reader: KeysReader<'_>,
        timestamp_ms: i64,
    ) -> Result<Vec<KeyInfo>, KeysError> {
        match (&self.kind, reader) {
            (
                KeysKind::Full {
                    generation,
                    admin_key,
                    ..
                },
                KeysReader::Admin(group),
            ) => {
                let k = seed_hash(group, ADMIN_KEY_HASH_KEY);
                let plain = XChaCha20Poly1305::new((&*k).into())
                    .decrypt((&self.nonce).into(), &admin_key[..])
                    .map_err(|_| KeysError::AdminKey)?;
                Ok(vec![
                    key_info(*generation, timestamp_ms, &plain).ok_or(KeysError::AdminKey)?
                ])
            }
            (
                KeysKind::Full {
                    generation,
                    entries,
                    ..
                },
                KeysReader::Member(me),
            ) => {
                let group_x = self.group_x25519()?;
                let Some(plain) = self.member_open(entries.iter().map(|e| &e[..]), me, &group_x)
                else {
                    return Ok(Vec::new());
                };
                Ok(vec![
                    key_info(*generation, timestamp_ms, &plain).ok_or(KeysError::Field("k"))?
                ])
            }
            (KeysKind::Supplemental { .. }, KeysReader::Admin(_)) => Ok(Vec::new()),
            (KeysKind::Supplemental { entries, .. }, KeysReader::Member(me)) => {
                let group_x = self.group_x25519()?;
                match self.member_open(entries.iter().map(Vec::as_slice), me, &group_x) {
                    Some(plain) => parse_supplemental_list(&plain),
                    None => Ok(Vec::new()),
                }
            }
        }
    }

    /// `A'`: the group key as X25519.
    fn group_x25519(&self) -> Result<X25519PublicKey, KeysError> {
        self.group
            .to_x25519()
            .map_err(|_| KeysError::GroupPublicKey)
    }

    fn member_open<'a>(
        &self,
        entries: impl IntoIterator<Item = &'a [u8]>,
        me: &Identity,
        group_x: &X25519PublicKey,
    ) -> Option<Zeroizing<Vec<u8>>> {
        decrypt_for_multiple(entries, &self.nonce, me, group_x, MEMBER_KEY_DOMAIN)
            .ok()
            .map(Zeroizing::new)
    }
}

/// `k` and `K` of a full message (§2.3): sizes and padding.
fn parse_full(top: &BTreeMap<Vec<u8>, BtValue>, generation: i64) -> Result<KeysKind, KeysError> {
    if generation < 0 {
        return Err(KeysError::NegativeGeneration);
    }
    let admin_key: [u8; SEALED_KEY_BYTES] = top
        .get(&b"K"[..])
        .and_then(BtValue::as_bytes)
        .and_then(|k| k.try_into().ok())
        .ok_or(KeysError::Field("K"))?;
    let Some(BtValue::List(items)) = top.get(&b"k"[..]) else {
        return Err(KeysError::Field("k"));
    };
    let entries = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_bytes()
                .and_then(|e| <[u8; SEALED_KEY_BYTES]>::try_from(e).ok())
                .ok_or(KeysError::EntrySize(i))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if entries.len() % MESSAGE_KEY_MULTIPLE != 0 {
        return Err(KeysError::Padding(entries.len()));
    }
    Ok(KeysKind::Full {
        generation,
        admin_key,
        entries,
    })
}

/// `+` of a supplemental message (§2.3): every entry at least [`MIN_SUPPLEMENTAL_ENTRY`].
fn parse_supplemental(list: &BtValue, generation: i64) -> Result<KeysKind, KeysError> {
    let BtValue::List(items) = list else {
        return Err(KeysError::Field("+"));
    };
    let entries = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_bytes()
                .filter(|e| e.len() >= MIN_SUPPLEMENTAL_ENTRY)
                .map(<[u8]>::to_vec)
                .ok_or(KeysError::EntrySize(i))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KeysKind::Supplemental {
        generation,
        entries,
    })
}

/// `~` must be the last key and 64 bytes, and sign every byte before `1:~` (as config
/// messages, §1.1). The strict decoder guarantees canonical bytes, so the signed prefix is the
/// input minus its last 71 bytes.
fn verify_signature(
    raw: &[u8],
    top: &BTreeMap<Vec<u8>, BtValue>,
    group: &Ed25519PublicKey,
) -> Result<(), KeysError> {
    let signature: [u8; 64] = match top.last_key_value() {
        Some((key, value)) if key == b"~" => value
            .as_bytes()
            .and_then(|s| s.try_into().ok())
            .ok_or(KeysError::MissingSignature)?,
        _ => return Err(KeysError::MissingSignature),
    };
    let prefix = raw
        .len()
        .checked_sub(SIGNATURE_TAIL)
        .and_then(|end| raw.get(..end))
        .ok_or(KeysError::MissingSignature)?;
    group
        .verify(prefix, &signature)
        .map_err(|_| KeysError::BadSignature)
}

/// A [`KeyInfo`] from 32 opened bytes.
fn key_info(generation: i64, timestamp_ms: i64, plain: &[u8]) -> Option<KeyInfo> {
    let key: [u8; 32] = plain.try_into().ok()?;
    Some(KeyInfo {
        generation,
        timestamp_ms,
        key: GroupEncKey::from_bytes(key),
    })
}

/// The opened supplemental list: dicts with `g` (int), `k` (32 bytes), `t` (int, ms).
fn parse_supplemental_list(plain: &[u8]) -> Result<Vec<KeyInfo>, KeysError> {
    let Ok(BtValue::List(items)) = BtValue::decode(plain) else {
        return Err(KeysError::SupplementalKeys);
    };
    items
        .iter()
        .map(|item| {
            let BtValue::Dict(d) = item else {
                return Err(KeysError::SupplementalKeys);
            };
            let int = |k: &[u8]| d.get(k).and_then(BtValue::as_int);
            let generation = int(b"g").ok_or(KeysError::SupplementalKeys)?;
            let timestamp_ms = int(b"t").ok_or(KeysError::SupplementalKeys)?;
            let key = d.get(&b"k"[..]).and_then(BtValue::as_bytes).unwrap_or(&[]);
            key_info(generation, timestamp_ms, key).ok_or(KeysError::SupplementalKeys)
        })
        .collect()
}
