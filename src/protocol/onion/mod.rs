//! Onion requests (`../shared/protocol/network.md` §5): the per-hop encryption, the combined
//! payload framing, the client-side builder and reply decoder, and the node-side peel used by the
//! devnet (service nodes and the v4 file server).
//!
//! The layers, innermost first, for a snode destination behind the path `[G, R1, R2]`:
//!
//! ```text
//! D  : Enc(aD → D,  u32le N ‖ rpc_body ‖ {"headers":""})
//! R2 : Enc(a2 → R2, u32le N ‖ blobD ‖ {"destination":D_ed,"enc_type":…,"ephemeral_key":AD})
//! R1 : Enc(a1 → R1, u32le N ‖ blob2 ‖ {"destination":R2_ed,…,"ephemeral_key":A2})
//! G  : Enc(aG → G,  u32le N ‖ blob1 ‖ {"destination":R1_ed,…,"ephemeral_key":A1})
//! wire to G: u32le N ‖ blobG ‖ {"enc_type":…,"ephemeral_key":AG}
//! ```
//!
//! Client side: [`build_snode_request`] / [`build_server_request`] give a [`WireRequest`] and a
//! pending reply ([`PendingSnodeReply`] / [`PendingServerReply`]) that decodes the answer.
//! Node side: [`IncomingLayer::peel`] gives a [`Peeled`] layer; a [`ReplyEncryptor`] answers a
//! destination request. Server side (v4): [`V4Inbound`] opens a request and its
//! [`V4ReplyEncryptor`] seals the answer.

mod builder;
mod framing;
mod hop;
mod peel;
mod reply;
mod v4;

#[cfg(test)]
mod peel_tests;
#[cfg(test)]
mod roundtrip_tests;
#[cfg(test)]
mod tests;

use std::fmt;

pub use builder::{
    build_server_request, build_snode_request, BuildError, DestinationLayer, NodeKeys, OnionPath,
    ServerTarget, WireRequest, V4_TARGET,
};
pub use framing::{CombinedPayload, FramingError};
pub use hop::{HopError, SharedKey};
pub use peel::{
    is_onion_url_target_allowed, IncomingLayer, NextLayer, NodeResponse, PeelError, Peeled,
    ProxyToServer, ReplyBody, ReplyEncryptor, MAX_ONION_HOPS,
};
pub use reply::{PendingServerReply, PendingSnodeReply, ReplyError, ServerReply, SnodeReply};
pub use v4::{V4Error, V4Inbound, V4ReplyEncryptor, V4Request, V4Response};

/// The per-hop cipher named by a layer's `enc_type` (`network.md` §5.1).
///
/// Wire strings: [`EncType::AesGcm`] is written `"aes-gcm"` (alias `"gcm"`), and is the default
/// when `enc_type` is absent; [`EncType::XChaCha20`] is written `"xchacha20"` (alias
/// `"xchacha20-poly1305"`). The storage server also accepts `"aes-cbc"`/`"cbc"`; no client uses
/// it and neither do we, so it parses as [`EncTypeError::Unsupported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EncType {
    /// AES-256-GCM, key `HMAC-SHA256("LOKI", S)`, 12-byte IV prefix.
    #[default]
    AesGcm,
    /// XChaCha20-Poly1305-IETF, key `BLAKE2b-256(S ‖ A_client ‖ B_server)`, 24-byte nonce prefix.
    XChaCha20,
}

/// An `enc_type` string we cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncTypeError {
    /// AES-CBC: accepted by storage servers, never used by clients, not implemented here.
    #[error("unsupported encryption type {0}")]
    Unsupported(&'static str),
    /// Anything else (the storage server answers "Invalid encryption type …").
    #[error("Invalid encryption type")]
    Unknown,
}

impl EncType {
    /// The canonical wire string, as SS and libsession emit it.
    pub fn as_wire(self) -> &'static str {
        match self {
            EncType::AesGcm => "aes-gcm",
            EncType::XChaCha20 => "xchacha20",
        }
    }

    /// Parses a wire string, accepting the aliases SS accepts (`channel_encryption.cpp`
    /// `parse_enc_type`).
    pub fn from_wire(s: &str) -> Result<Self, EncTypeError> {
        match s {
            "aes-gcm" | "gcm" => Ok(EncType::AesGcm),
            "xchacha20" | "xchacha20-poly1305" => Ok(EncType::XChaCha20),
            "aes-cbc" => Err(EncTypeError::Unsupported("aes-cbc")),
            "cbc" => Err(EncTypeError::Unsupported("cbc")),
            _ => Err(EncTypeError::Unknown),
        }
    }
}

impl fmt::Display for EncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_wire())
    }
}

/// How the last hop reaches a non-snode server (`"protocol"` in the route JSON, §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerProtocol {
    /// `"http"` (default port 80).
    Http,
    /// `"https"` (default port 443; SS's default when `protocol` is absent).
    Https,
}

impl ServerProtocol {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerProtocol::Http => "http",
            ServerProtocol::Https => "https",
        }
    }
}

/// A service node's Ed25519 public key: how onion layers name the next hop (`"destination"`,
/// 64 lowercase hex digits on the wire, `network.md` §5.3). Public, so it displays in full.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnodeEd25519([u8; 32]);

/// A 64-digit hex key that did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("key is not 64 hex digits")]
pub struct KeyHexError;

impl SnodeEd25519 {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SnodeEd25519(bytes)
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, KeyHexError> {
        parse_key_hex(s).map(SnodeEd25519)
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, as written in onion JSON.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for SnodeEd25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for SnodeEd25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnodeEd25519({})", self.to_hex())
    }
}

/// Parses 64 hex digits into 32 bytes.
pub(crate) fn parse_key_hex(s: &str) -> Result<[u8; 32], KeyHexError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| KeyHexError)?;
    Ok(out)
}

/// Parses an X25519 public key from 64 hex digits (`"ephemeral_key"` in onion JSON).
pub(crate) fn parse_x25519_hex(s: &str) -> Result<x25519_dalek::PublicKey, KeyHexError> {
    parse_key_hex(s).map(x25519_dalek::PublicKey::from)
}
