//! A test-only reader and writer of the account's UserGroups config (namespace 5), written from
//! `../shared/protocol/groups.md` §1.1, §1.3, §1.4 and §3.3 with the crypto crates directly, so
//! what the gateway pushes is checked against an independent reading of the spec, not against
//! its own `protocol::groups::config` code.
//!
//! ```text
//! key   = BLAKE2b-256(seed(32) ‖ u64_be(len(plain)) ‖ "UserGroups")
//! nonce = BLAKE2b-192(plain, key = "libsessionutil-config-encrypted-UserGroups")
//! blob  = XChaCha20-Poly1305(plain, key, nonce) ‖ nonce
//! plain = 0x00… ‖ ('z' ‖ zstd(message) | message)          prefix padding
//! message = bencode { "#": seqno, "&": data, "<": lagged, "=": diff }
//! data["g"][0x03 ‖ group pk (33 bytes)] = { "K": seed | "", "s": auth, "n", "i", "j", … }
//! ```
#![allow(dead_code)] // each test binary uses a different part of the client

use std::collections::BTreeMap;

use blake2::digest::consts::{U24, U32};
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2b, Blake2bMac};
use chacha20poly1305::aead::Aead;
use chacha20poly1305::XChaCha20Poly1305;

const DOMAIN: &[u8] = b"UserGroups";

/// A bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bt {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Bt>),
    Dict(BTreeMap<Vec<u8>, Bt>),
}

impl Bt {
    pub fn dict(&self) -> Option<&BTreeMap<Vec<u8>, Bt>> {
        match self {
            Bt::Dict(d) => Some(d),
            _ => None,
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<&Bt> {
        self.dict()?.get(key)
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Bt::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Bt::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn str(s: &str) -> Bt {
        Bt::Bytes(s.as_bytes().to_vec())
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Bt::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Bt::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Bt::List(items) => {
                out.push(b'l');
                items.iter().for_each(|i| i.encode(out));
                out.push(b'e');
            }
            Bt::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Bt::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }
}

/// Decodes one value; returns it and the rest.
pub fn decode(input: &[u8]) -> Result<(Bt, &[u8]), String> {
    match input.first() {
        Some(b'i') => {
            let end = input.iter().position(|&c| c == b'e').ok_or("int end")?;
            let text = std::str::from_utf8(&input[1..end]).map_err(|e| e.to_string())?;
            Ok((Bt::Int(text.parse().map_err(|_| "int")?), &input[end + 1..]))
        }
        Some(b'l') => {
            let mut rest = &input[1..];
            let mut items = Vec::new();
            while rest.first() != Some(&b'e') {
                let (item, r) = decode(rest)?;
                items.push(item);
                rest = r;
            }
            Ok((Bt::List(items), &rest[1..]))
        }
        Some(b'd') => {
            let mut rest = &input[1..];
            let mut dict = BTreeMap::new();
            while rest.first() != Some(&b'e') {
                let (key, r) = decode(rest)?;
                let (value, r) = decode(r)?;
                dict.insert(key.bytes().ok_or("dict key")?.to_vec(), value);
                rest = r;
            }
            Ok((Bt::Dict(dict), &rest[1..]))
        }
        Some(b'0'..=b'9') => {
            let colon = input.iter().position(|&c| c == b':').ok_or("len")?;
            let len: usize = std::str::from_utf8(&input[..colon])
                .map_err(|e| e.to_string())?
                .parse()
                .map_err(|_| "len")?;
            let body = input.get(colon + 1..colon + 1 + len).ok_or("short")?;
            Ok((Bt::Bytes(body.to_vec()), &input[colon + 1 + len..]))
        }
        _ => Err("not bencode".into()),
    }
}

fn key_for(seed: &[u8; 32], plain_len: usize) -> [u8; 32] {
    let mut hash = Blake2b::<U32>::new();
    hash.update(seed);
    hash.update((plain_len as u64).to_be_bytes());
    hash.update(DOMAIN);
    hash.finalize().into()
}

/// Decrypts, unpads and decompresses one namespace-5 message: the bencoded config message.
pub fn open(blob: &[u8], seed: &[u8; 32]) -> Result<Vec<u8>, String> {
    if blob.len() < 40 {
        return Err("short".into());
    }
    let (ciphertext, nonce) = blob.split_at(blob.len() - 24);
    let key = key_for(seed, blob.len() - 40);
    let plain = XChaCha20Poly1305::new((&key).into())
        .decrypt(nonce.into(), ciphertext)
        .map_err(|_| "does not decrypt")?;
    let start = plain.iter().position(|&b| b != 0).ok_or("only padding")?;
    let body = &plain[start..];
    match body.first() {
        Some(b'z') => zstd::stream::decode_all(&body[1..]).map_err(|e| e.to_string()),
        Some(b'd') => Ok(body.to_vec()),
        _ => Err("not a config".into()),
    }
}

/// Pads (to a multiple of 256 with the 40 bytes of overhead) and encrypts a config message.
pub fn seal(message: &[u8], seed: &[u8; 32]) -> Vec<u8> {
    let mut plain = vec![0u8; (256 - (message.len() + 40) % 256) % 256];
    plain.extend_from_slice(message);
    let key = key_for(seed, plain.len());
    let mut nonce_key = b"libsessionutil-config-encrypted-".to_vec();
    nonce_key.extend_from_slice(DOMAIN);
    let mut mac = <Blake2bMac<U24> as KeyInit>::new_from_slice(&nonce_key).unwrap();
    mac.update(&plain);
    let nonce: [u8; 24] = mac.finalize().into_bytes().into();
    let mut out = XChaCha20Poly1305::new((&key).into())
        .encrypt((&nonce).into(), plain.as_slice())
        .unwrap();
    out.extend_from_slice(&nonce);
    out
}

/// A parsed config message with its hash (BLAKE2b-256 of its bytes).
#[derive(Debug, Clone)]
pub struct Config {
    pub seqno: i64,
    pub hash: [u8; 32],
    pub top: Bt,
}

impl Config {
    pub fn parse(message: &[u8]) -> Result<Self, String> {
        let (top, rest) = decode(message)?;
        if !rest.is_empty() {
            return Err("trailing bytes".into());
        }
        let seqno = top.get(b"#").and_then(Bt::int).ok_or("no seqno")?;
        Ok(Self {
            seqno,
            hash: Blake2b::<U32>::digest(message).into(),
            top,
        })
    }

    /// The `&` data.
    pub fn data(&self) -> &Bt {
        self.top.get(b"&").unwrap()
    }

    /// The `g` entry of the group `03…` (hex), if listed.
    pub fn group(&self, group: &str) -> Option<&BTreeMap<Vec<u8>, Bt>> {
        let key = hex::decode(group).unwrap();
        self.data().get(b"g")?.get(&key)?.dict()
    }

    /// A message at `seqno + 1` with `data`, the diff `diff` and this one's diff lagged (§1.1):
    /// what a client that read this message and changed `data` pushes.
    pub fn next(&self, data: Bt, diff: Bt) -> Vec<u8> {
        let own_diff = self
            .top
            .get(b"=")
            .cloned()
            .unwrap_or(Bt::Dict(BTreeMap::new()));
        let lagged = Bt::List(vec![Bt::List(vec![
            Bt::Int(self.seqno),
            Bt::Bytes(self.hash.to_vec()),
            own_diff,
        ])]);
        let mut top = BTreeMap::new();
        top.insert(b"#".to_vec(), Bt::Int(self.seqno + 1));
        top.insert(b"&".to_vec(), data);
        top.insert(b"<".to_vec(), lagged);
        top.insert(b"=".to_vec(), diff);
        let mut out = Vec::new();
        Bt::Dict(top).encode(&mut out);
        out
    }
}

/// The configs of a namespace-5 page that open with `seed`, highest seqno last.
pub fn configs(blobs: &[Vec<u8>], seed: &[u8; 32]) -> Vec<Config> {
    let mut out: Vec<Config> = blobs
        .iter()
        .filter_map(|b| open(b, seed).ok())
        .filter_map(|m| Config::parse(&m).ok())
        .collect();
    out.sort_by_key(|c| (c.seqno, c.hash));
    out
}
