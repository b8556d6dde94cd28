//! Small protocol pieces the devnet needs before `protocol::` has them.
//!
//! Swarm mapping, message hashes and hop ciphers delegate to `protocol::`. Kept here: AES-CBC
//! (SS accepts it, `protocol::onion` does not), and the byte-level combined-payload and v4
//! bencode helpers the node side needs on raw bytes. Everything here is pure and follows `../shared/protocol/network.md` §3.1, §4.5, §5.1, §5.2, §5.5.

use rand::RngCore;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::protocol;
use crate::protocol::onion::SharedKey;
use crate::protocol::storage::{AccountId, Namespace};
use crate::protocol::swarm::SwarmId;

/// The swarm id that marks a decommissioned node (network.md §2.2).
pub const INVALID_SWARM_ID: u64 = u64::MAX;

/// Failures of the pieces in this module.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// Ciphertext too short, wrong key or tampered bytes.
    #[error("decryption failed")]
    Decrypt,
    /// An `enc_type` string that the storage server does not accept.
    #[error("unknown enc_type")]
    UnknownEncType,
    /// The `u32le ‖ blob ‖ json` frame is truncated.
    #[error("truncated combined payload")]
    Truncated,
    /// Bytes that are not the bencoded list the v4 format uses.
    #[error("malformed bencode")]
    Bencode,
}

/// Swarm space of a 32-byte key (network.md §3.1), from [`protocol::swarm`].
pub fn swarm_space(pk: &[u8; 32]) -> u64 {
    protocol::swarm::swarm_space(pk)
}

/// The swarm serving `space` among `swarms` (any order), with wraparound and ties to the left
/// (§3.2), from [`protocol::swarm`].
pub fn closest_swarm(space: u64, swarms: &[u64]) -> Option<u64> {
    let mut sorted: Vec<SwarmId> = swarms.iter().copied().map(SwarmId).collect();
    sorted.sort_unstable();
    sorted.dedup();
    protocol::swarm::closest_swarm(space, &sorted).map(|id| id.0)
}

/// `NS` as it appears in hashes and signed strings: empty for namespace 0 (§4.4, §4.5).
pub fn ns_text(namespace: i16) -> String {
    Namespace(namespace).signing_text()
}

/// Message hash (§4.5), from [`protocol::storage::message_hash`].
pub fn message_hash(account: &[u8; 33], namespace: i16, data: &[u8]) -> String {
    let account = AccountId::from_bytes(account);
    protocol::storage::message_hash(&account, Namespace(namespace), data)
        .as_str()
        .to_owned()
}

/// The hop ciphers of network.md §5.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncType {
    /// `aes-gcm` (also `gcm`; the default when absent): IV(12) ‖ ct ‖ tag(16).
    AesGcm,
    /// `xchacha20` (also `xchacha20-poly1305`): nonce(24) ‖ ct ‖ tag(16).
    XChaCha20,
    /// `aes-cbc` / `cbc`: IV(16) ‖ PKCS#7-padded ct; key is the raw shared secret.
    AesCbc,
}

impl EncType {
    /// Parses the `enc_type` strings the storage server accepts.
    pub fn parse(s: &str) -> Result<Self, WireError> {
        match s {
            "aes-gcm" | "gcm" => Ok(Self::AesGcm),
            "xchacha20" | "xchacha20-poly1305" => Ok(Self::XChaCha20),
            "aes-cbc" | "cbc" => Ok(Self::AesCbc),
            _ => Err(WireError::UnknownEncType),
        }
    }

    /// The canonical string clients and relays emit.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AesGcm => "aes-gcm",
            Self::XChaCha20 => "xchacha20",
            Self::AesCbc => "aes-cbc",
        }
    }
}

/// One hop's channel: the key shared by a client ephemeral key and our static key.
/// AES-GCM and XChaCha20 come from [`protocol::onion::hop`]; AES-CBC (accepted by SS, used by no
/// client, absent from `protocol`) is kept here.
#[derive(Clone)]
pub struct HopChannel(Channel);

#[derive(Clone)]
enum Channel {
    Proto(SharedKey),
    Cbc(zeroize::Zeroizing<[u8; 32]>),
}

impl std::fmt::Debug for HopChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HopChannel(<redacted>)")
    }
}

impl HopChannel {
    /// Server side: our static secret and the client's ephemeral public key. Fails for a
    /// low-order ephemeral key.
    pub fn server(
        enc: EncType,
        ours: &StaticSecret,
        client_pub: &[u8; 32],
    ) -> Result<Self, WireError> {
        let client = PublicKey::from(*client_pub);
        let proto = match enc {
            EncType::AesGcm => protocol::onion::EncType::AesGcm,
            EncType::XChaCha20 => protocol::onion::EncType::XChaCha20,
            EncType::AesCbc => {
                let shared = ours.diffie_hellman(&client);
                return Ok(Self(Channel::Cbc(zeroize::Zeroizing::new(
                    *shared.as_bytes(),
                ))));
            }
        };
        SharedKey::recipient(proto, ours, &client)
            .map(|k| Self(Channel::Proto(k)))
            .map_err(|_| WireError::Decrypt)
    }

    /// Encrypts with a fresh random nonce/IV prepended.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut rng = rand::rngs::OsRng;
        match &self.0 {
            Channel::Proto(key) => key.encrypt(plaintext, &mut rng).unwrap_or_default(),
            Channel::Cbc(key) => {
                use cbc::cipher::{BlockEncryptMut, KeyIvInit};
                let mut iv = [0u8; 16];
                rng.fill_bytes(&mut iv);
                let ct = cbc::Encryptor::<aes::Aes256>::new(&(**key).into(), &iv.into())
                    .encrypt_padded_vec_mut::<cbc::cipher::block_padding::Pkcs7>(plaintext);
                [iv.as_slice(), &ct].concat()
            }
        }
    }

    /// Decrypts `nonce ‖ ciphertext ‖ tag`; any failure is [`WireError::Decrypt`].
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, WireError> {
        match &self.0 {
            Channel::Proto(key) => key.decrypt(data).map_err(|_| WireError::Decrypt),
            Channel::Cbc(key) => {
                use cbc::cipher::{BlockDecryptMut, KeyIvInit};
                let (iv, ct) = split_checked(data, 16, 16)?;
                let iv: [u8; 16] = iv.try_into().map_err(|_| WireError::Decrypt)?;
                cbc::Decryptor::<aes::Aes256>::new(&(**key).into(), &iv.into())
                    .decrypt_padded_vec_mut::<cbc::cipher::block_padding::Pkcs7>(ct)
                    .map_err(|_| WireError::Decrypt)
            }
        }
    }
}

fn split_checked(data: &[u8], prefix: usize, min_rest: usize) -> Result<(&[u8], &[u8]), WireError> {
    if data.len() < prefix + min_rest {
        return Err(WireError::Decrypt);
    }
    Ok(data.split_at(prefix))
}

/// Splits a combined payload `u32le N ‖ N bytes ‖ JSON` (§5.2) into the blob and the JSON bytes.
pub fn split_combined(data: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let (len, rest) = data.split_first_chunk::<4>().ok_or(WireError::Truncated)?;
    let n = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| WireError::Truncated)?;
    if rest.len() < n {
        return Err(WireError::Truncated);
    }
    Ok(rest.split_at(n))
}

/// Builds a combined payload `u32le N ‖ blob ‖ json` (§5.2).
pub fn combine(blob: &[u8], json: &[u8]) -> Vec<u8> {
    let len = u32::try_from(blob.len()).unwrap_or(u32::MAX);
    [len.to_le_bytes().as_slice(), blob, json].concat()
}

/// Parses a bencoded list of byte strings `l <len>:<bytes> … e` (the v4 format, §5.5).
pub fn bencode_string_list(data: &[u8]) -> Result<Vec<&[u8]>, WireError> {
    let mut rest = data.strip_prefix(b"l").ok_or(WireError::Bencode)?;
    let mut items = Vec::new();
    loop {
        match rest.first() {
            Some(b'e') if rest.len() == 1 => return Ok(items),
            Some(b'0'..=b'9') => {
                let colon = rest
                    .iter()
                    .position(|b| *b == b':')
                    .ok_or(WireError::Bencode)?;
                let (digits, after) = rest.split_at(colon);
                let digits = std::str::from_utf8(digits).map_err(|_| WireError::Bencode)?;
                if digits.len() > 1 && digits.starts_with('0') {
                    return Err(WireError::Bencode);
                }
                let len: usize = digits.parse().map_err(|_| WireError::Bencode)?;
                let after = after.get(1..).ok_or(WireError::Bencode)?;
                if after.len() < len {
                    return Err(WireError::Bencode);
                }
                let (item, next) = after.split_at(len);
                items.push(item);
                rest = next;
            }
            _ => return Err(WireError::Bencode),
        }
    }
}

/// Encodes byte strings as a bencoded list (the v4 request/response framing, §5.5).
pub fn bencode_list(items: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![b'l'];
    for item in items {
        out.extend_from_slice(item.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(item);
    }
    out.push(b'e');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key32(hex_str: &str) -> [u8; 32] {
        hex::decode(hex_str).unwrap().try_into().unwrap()
    }

    #[test]
    fn swarm_space_vectors_from_network_md_6_1() {
        let cases: &[(&str, u64)] = &[
            (
                "053506f4a71324b7dd114eddbf4e311f39dde243e1f2cb97c40db1961f70ebaae8",
                17589930838143112648,
            ),
            (
                "05cf27da303a50ac8c4b2d43d27259505c9bcd73fc21cf2a57902c3d050730b604",
                10370619079776428163,
            ),
            (
                "05fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe",
                1,
            ),
        ];
        for (pk, space) in cases {
            let raw = hex::decode(pk).unwrap();
            let key: [u8; 32] = raw[1..].try_into().unwrap();
            assert_eq!(swarm_space(&key), *space);
        }
    }

    #[test]
    fn closest_swarm_vectors_from_network_md_6_2() {
        let swarms = [100, 200, 300, 399, 498, 596, 694];
        for (space, want) in [
            (0x95, 100),
            (0x96, 100),
            (0x97, 200),
            (0x8000000000000000, 694),
            (0xa000000000000000, 100),
            (u64::MAX, 100),
        ] {
            assert_eq!(
                closest_swarm(space, &swarms),
                Some(want),
                "space {space:#x}"
            );
        }
    }

    #[test]
    fn message_hash_vectors_from_network_md_6_4() {
        let mut account = [0xabu8; 33];
        account[0] = 0x05;
        assert_eq!(
            message_hash(&account, 0, b"hello"),
            "WYAYCvijH+g8bvfheT1oUQI7BkQ4gnNIW0QXgGa00fA"
        );
        assert_eq!(
            message_hash(&account, -10, b"hello"),
            "ZUcjBlSTwhCD3+knzbexSyzKVsnNQ+hB6NglxSNEInk"
        );
    }

    #[test]
    fn hop_decrypt_vectors_from_network_md_6_3() {
        let a_pub = key32("bbdfc83022d0aff084a6f0c529a93d1c4d728bf7e41199afed0e01ae70d20540");
        let b = StaticSecret::from(key32(
            "8fcd8ad3a15c76f76f1c56dff0c529999f8c59b4acda79e05666e54d5727dca1",
        ));
        let gcm = hex::decode(
            "1eb6ae1cd72f60999486365749bd5dc15cc0b6a2a44d7d063daa5e93722f0c025fd00306403b61",
        )
        .unwrap();
        let xc = hex::decode("9e1a3abe60eff3ea5c23556cc7e225b6f94355315f7281f66ecf4dbb06e7899a52b863e03cde3b287d1638d765db75de02b032").unwrap();
        let ch = HopChannel::server(EncType::AesGcm, &b, &a_pub).unwrap();
        assert_eq!(ch.decrypt(&gcm).unwrap(), b"Hello world");
        let ch = HopChannel::server(EncType::XChaCha20, &b, &a_pub).unwrap();
        assert_eq!(ch.decrypt(&xc).unwrap(), b"Hello world");
        let mut broken = xc.clone();
        *broken.last_mut().unwrap() = 0x33;
        assert_eq!(ch.decrypt(&broken), Err(WireError::Decrypt));
    }

    #[test]
    fn bencode_round_trip_and_junk() {
        let enc = bencode_list(&[b"{}", b"body"]);
        assert_eq!(
            bencode_string_list(&enc).unwrap(),
            vec![b"{}".as_slice(), b"body"]
        );
        for junk in [&b""[..], b"l", b"l5:ab", b"x", b"l01:ae", b"l2:abex"] {
            assert!(bencode_string_list(junk).is_err());
        }
    }
}
