//! Client side: building an onion request over a 3-hop path (`network.md` §5.3, §5.5; LS
//! `src/onionreq/builder.cpp`, SD `onions.ts`).
//!
//! One type per step: a [`DestinationLayer`] (the innermost layer, sealed to the destination)
//! is wrapped [`through`](DestinationLayer::through) an [`OnionPath`], which gives the
//! [`WireRequest`] for the guard and the pending reply that decodes the answer.

use std::fmt;

use rand::{CryptoRng, RngCore};
use serde_json::{Map, Value};
use x25519_dalek::{PublicKey, StaticSecret};

use super::framing::{CombinedPayload, FramingError};
use super::hop::{HopError, LayerSecret};
use super::reply::{PendingServerReply, PendingSnodeReply};
use super::v4::V4Request;
use super::{EncType, ServerProtocol, SnodeEd25519};

/// The route target the last hop POSTs v4 requests to (LSQ hard-codes it).
pub const V4_TARGET: &str = "/oxen/v4/lsrpc";

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The path names the same node twice.
    #[error("path repeats node {0}")]
    RepeatedNode(SnodeEd25519),
    /// The destination snode is on the path (SD excludes it; it would see both ends).
    #[error("destination {0} is on the path")]
    DestinationOnPath(SnodeEd25519),
    /// A node's X25519 key is a low-order point, or a layer is too long to encrypt.
    #[error("layer encryption failed: {0}")]
    Hop(#[from] HopError),
    /// A layer is longer than the u32 length prefix allows.
    #[error("layer framing failed: {0}")]
    Framing(#[from] FramingError),
}

/// A service node's public keys: Ed25519 to name it in routing JSON, X25519 to encrypt to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeKeys {
    /// `pubkey_ed25519`.
    pub ed25519: SnodeEd25519,
    /// `pubkey_x25519`.
    pub x25519: PublicKey,
}

/// Three distinct nodes: guard first (the only node the client connects to), then two relays.
#[derive(Debug, Clone)]
pub struct OnionPath {
    hops: [NodeKeys; 3],
}

impl OnionPath {
    /// Builds a path `[guard, r1, r2]`; the nodes must be distinct.
    pub fn new(guard: NodeKeys, r1: NodeKeys, r2: NodeKeys) -> Result<Self, BuildError> {
        if guard.ed25519 == r1.ed25519 || guard.ed25519 == r2.ed25519 {
            return Err(BuildError::RepeatedNode(guard.ed25519));
        }
        if r1.ed25519 == r2.ed25519 {
            return Err(BuildError::RepeatedNode(r1.ed25519));
        }
        Ok(OnionPath {
            hops: [guard, r1, r2],
        })
    }

    /// The guard.
    pub fn guard(&self) -> &NodeKeys {
        &self.hops[0]
    }

    /// The nodes, guard first.
    pub fn hops(&self) -> &[NodeKeys; 3] {
        &self.hops
    }

    fn contains(&self, node: &SnodeEd25519) -> bool {
        self.hops.iter().any(|h| h.ed25519 == *node)
    }
}

/// A non-snode server reached by v4 (file server, SOGS): where the last hop POSTs, and the
/// server's X25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTarget {
    /// Host name, without scheme or port.
    pub host: String,
    /// `http` or `https`.
    pub protocol: ServerProtocol,
    /// TCP port.
    pub port: u16,
    /// The server's X25519 public key.
    pub x25519: PublicKey,
}

/// The request body for `POST /onion_req/v2` on the guard (or QUIC `onion_req`):
/// `u32le N ‖ blobG ‖ {"enc_type":"…","ephemeral_key":"<AG hex>"}`.
#[derive(Clone, PartialEq, Eq)]
pub struct WireRequest {
    /// The guard to send it to.
    pub guard: SnodeEd25519,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for WireRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireRequest")
            .field("guard", &self.guard)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// How the node before a sealed layer forwards it: the routing keys of that node's JSON.
enum Route {
    /// To a snode: `{"destination": <ed25519 hex>}`.
    Snode(SnodeEd25519),
    /// To a server: `{"host","target","method","protocol","port"}`.
    Server {
        host: String,
        protocol: ServerProtocol,
        port: u16,
    },
}

/// A layer encrypted to one recipient, with what the previous hop needs to forward it.
struct Sealed {
    blob: Vec<u8>,
    ephemeral: PublicKey,
    enc: EncType,
    route: Route,
}

impl Sealed {
    /// Encrypts `plaintext` to `recipient` under a fresh ephemeral key; returns the layer and
    /// its agreed secret (kept only for the destination layer, to decrypt the reply).
    fn seal<R: RngCore + CryptoRng>(
        plaintext: &[u8],
        recipient: &PublicKey,
        enc: EncType,
        route: Route,
        rng: &mut R,
    ) -> Result<(Self, LayerSecret), BuildError> {
        let secret = StaticSecret::random_from_rng(&mut *rng);
        let ephemeral = PublicKey::from(&secret);
        let layer = LayerSecret::client(&secret, &ephemeral, recipient)?;
        let blob = layer.key(enc).encrypt(plaintext, rng)?;
        let sealed = Sealed {
            blob,
            ephemeral,
            enc,
            route,
        };
        Ok((sealed, layer))
    }

    /// The JSON the previous hop reads next to this layer's blob.
    fn route_json(&self) -> Map<String, Value> {
        let mut m = key_json(&self.ephemeral, self.enc);
        match &self.route {
            Route::Snode(ed) => {
                m.insert("destination".into(), Value::String(ed.to_hex()));
            }
            Route::Server {
                host,
                protocol,
                port,
            } => {
                m.insert("host".into(), Value::String(host.clone()));
                m.insert("target".into(), Value::String(V4_TARGET.into()));
                m.insert("method".into(), Value::String("POST".into()));
                m.insert("protocol".into(), Value::String(protocol.as_str().into()));
                m.insert("port".into(), Value::from(*port));
            }
        }
        m
    }

    /// Wraps this layer for `hop`, which will forward it by [`Sealed::route_json`].
    fn wrap<R: RngCore + CryptoRng>(self, hop: &NodeKeys, rng: &mut R) -> Result<Self, BuildError> {
        let json = self.route_json();
        let plaintext = CombinedPayload::new(self.blob, json).encode()?;
        let route = Route::Snode(hop.ed25519);
        Ok(Sealed::seal(&plaintext, &hop.x25519, self.enc, route, rng)?.0)
    }
}

/// `{"enc_type":…,"ephemeral_key":…}`.
fn key_json(ephemeral: &PublicKey, enc: EncType) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("enc_type".into(), Value::String(enc.as_wire().into()));
    m.insert(
        "ephemeral_key".into(),
        Value::String(hex::encode(ephemeral.as_bytes())),
    );
    m
}

/// Step 1: the innermost layer, sealed to the destination, with the pending reply `P` that
/// holds its ephemeral secret.
pub struct DestinationLayer<P> {
    sealed: Sealed,
    pending: P,
}

impl<P> fmt::Debug for DestinationLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestinationLayer")
            .field("blob_len", &self.sealed.blob.len())
            .field("enc", &self.sealed.enc)
            .finish_non_exhaustive()
    }
}

impl DestinationLayer<PendingSnodeReply> {
    /// Seals `u32le N ‖ rpc_body ‖ {"headers":""}` to a snode (§5.3 step 1). `rpc_body` is the
    /// storage RPC JSON `{"method":…,"params":…}`.
    pub fn for_snode<R: RngCore + CryptoRng>(
        destination: &NodeKeys,
        rpc_body: &[u8],
        enc: EncType,
        rng: &mut R,
    ) -> Result<Self, BuildError> {
        let mut control = Map::new();
        control.insert("headers".into(), Value::String(String::new()));
        let inner = CombinedPayload::new(rpc_body.to_vec(), control).encode()?;
        let route = Route::Snode(destination.ed25519);
        let (sealed, secret) = Sealed::seal(&inner, &destination.x25519, enc, route, rng)?;
        let pending = PendingSnodeReply::agreed(secret, enc);
        Ok(DestinationLayer { sealed, pending })
    }
}

impl DestinationLayer<PendingServerReply> {
    /// Seals the bencoded v4 request to a server (§5.5), unframed. Headers are normalised as
    /// libsession does (no `User-Agent`; JSON content type when a body has none).
    pub fn for_server<R: RngCore + CryptoRng>(
        server: &ServerTarget,
        request: &V4Request,
        enc: EncType,
        rng: &mut R,
    ) -> Result<Self, BuildError> {
        let plaintext = request.normalised_for_client().encode();
        let route = Route::Server {
            host: server.host.clone(),
            protocol: server.protocol,
            port: server.port,
        };
        let (sealed, secret) = Sealed::seal(&plaintext, &server.x25519, enc, route, rng)?;
        let pending = PendingServerReply::agreed(secret, enc);
        Ok(DestinationLayer { sealed, pending })
    }
}

impl<P> DestinationLayer<P> {
    /// Step 2: wraps the layer for `r2`, `r1`, then the guard, and frames it for the wire.
    pub fn through<R: RngCore + CryptoRng>(
        self,
        path: &OnionPath,
        rng: &mut R,
    ) -> Result<(WireRequest, P), BuildError> {
        if let Route::Snode(dest) = &self.sealed.route {
            if path.contains(dest) {
                return Err(BuildError::DestinationOnPath(*dest));
            }
        }
        let [guard, r1, r2] = &path.hops;
        let sealed = self.sealed.wrap(r2, rng)?.wrap(r1, rng)?.wrap(guard, rng)?;
        let body =
            CombinedPayload::new(sealed.blob, key_json(&sealed.ephemeral, sealed.enc)).encode()?;
        Ok((
            WireRequest {
                guard: guard.ed25519,
                body,
            },
            self.pending,
        ))
    }
}

/// Builds a request to a snode destination over `path` (§5.3).
pub fn build_snode_request<R: RngCore + CryptoRng>(
    path: &OnionPath,
    destination: &NodeKeys,
    rpc_body: &[u8],
    enc: EncType,
    rng: &mut R,
) -> Result<(WireRequest, PendingSnodeReply), BuildError> {
    DestinationLayer::for_snode(destination, rpc_body, enc, rng)?.through(path, rng)
}

/// Builds a v4 request to a server over `path` (§5.5).
pub fn build_server_request<R: RngCore + CryptoRng>(
    path: &OnionPath,
    server: &ServerTarget,
    request: &V4Request,
    enc: EncType,
    rng: &mut R,
) -> Result<(WireRequest, PendingServerReply), BuildError> {
    DestinationLayer::for_server(server, request, enc, rng)?.through(path, rng)
}
