//! A test-side Session client written from network.md only (not from devnet code): seed
//! bootstrap, signed requests the way Session Desktop builds them, and an onion builder
//! (§5.1–§5.5) made directly from the crypto crates.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use aes_gcm::aead::{Aead, KeyInit};
use base64::Engine as _;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{json, Value};
use session_gateway::devnet::{Devnet, DevnetConfig};
use x25519_dalek::{PublicKey, StaticSecret};

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

pub async fn devnet() -> Devnet {
    Devnet::start(DevnetConfig::default()).await.unwrap()
}

/// One node as the seed lists it.
#[derive(Debug, Clone)]
pub struct Snode {
    pub ip: String,
    pub port: u16,
    pub ed: String,
    pub x: [u8; 32],
}

impl Snode {
    pub fn url(&self, path: &str) -> String {
        format!("https://{}:{}{}", self.ip, self.port, path)
    }
}

fn snode_from(v: &Value) -> Snode {
    Snode {
        ip: v["public_ip"]
            .as_str()
            .or(v["ip"].as_str())
            .unwrap()
            .to_owned(),
        port: v["storage_port"]
            .as_u64()
            .or(v["port_https"].as_u64())
            .unwrap() as u16,
        ed: v["pubkey_ed25519"].as_str().unwrap().to_owned(),
        x: hex::decode(v["pubkey_x25519"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    }
}

/// Bootstraps from the seed exactly like Session Desktop (§2.1).
pub async fn seed_nodes(http: &reqwest::Client, seed: &str) -> Vec<Snode> {
    let req = json!({"jsonrpc":"2.0","method":"get_n_service_nodes",
        "params":{"active_only":true,"fields":{"public_ip":true,"storage_port":true,
        "pubkey_x25519":true,"pubkey_ed25519":true,"requested_unlock_height":true,"height":true}}});
    let resp = http
        .post(seed)
        .header("User-Agent", "WhatsApp")
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    body["result"]["service_node_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(snode_from)
        .collect()
}

/// The swarm of a pubkey, asked of `via` with `get_swarm` (§3.3).
pub async fn swarm_of(http: &reqwest::Client, via: &Snode, pubkey: &str) -> Vec<Snode> {
    let (status, body) = rpc(
        http,
        via,
        json!({"method":"get_swarm","params":{"pubkey":pubkey}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["snodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(snode_from)
        .collect()
}

/// `POST /storage_rpc/v1`; returns status and body text.
pub async fn rpc(http: &reqwest::Client, node: &Snode, body: Value) -> (u16, String) {
    raw(http, node, "/storage_rpc/v1", body.to_string().into_bytes()).await
}

pub async fn raw(http: &reqwest::Client, node: &Snode, path: &str, body: Vec<u8>) -> (u16, String) {
    let resp = http.post(node.url(path)).body(body).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

pub fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// A Session account: Ed25519 key, Session ID `05` + X25519.
pub struct User {
    pub ed: SigningKey,
}

impl User {
    pub fn new() -> Self {
        Self {
            ed: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }
    pub fn id(&self) -> String {
        format!(
            "05{}",
            hex::encode(self.ed.verifying_key().to_montgomery().to_bytes())
        )
    }
    pub fn ed_hex(&self) -> String {
        hex::encode(self.ed.verifying_key().to_bytes())
    }
    pub fn sign(&self, msg: &[u8]) -> String {
        b64(&self.ed.sign(msg).to_bytes())
    }
}

/// The §4.5 hash, computed independently.
pub fn hash(pubkey_hex: &str, ns: i16, data: &[u8]) -> String {
    let mut h = Blake2b::<U32>::new();
    h.update(hex::decode(pubkey_hex).unwrap());
    if ns != 0 {
        h.update(ns.to_string());
    }
    h.update(data);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(h.finalize())
}

// ---- onion requests (§5) ------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Enc {
    Gcm,
    XChaCha,
}

impl Enc {
    fn name(self) -> &'static str {
        match self {
            Enc::Gcm => "aes-gcm",
            Enc::XChaCha => "xchacha20",
        }
    }
}

/// The key of one hop, client side (§5.1).
pub struct HopKey {
    enc: Enc,
    key: [u8; 32],
}

impl HopKey {
    fn new(enc: Enc, eph: &StaticSecret, server: &[u8; 32]) -> Self {
        let shared = eph.diffie_hellman(&PublicKey::from(*server));
        let key: [u8; 32] = match enc {
            Enc::Gcm => {
                let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(b"LOKI").unwrap();
                mac.update(shared.as_bytes());
                mac.finalize().into_bytes().into()
            }
            Enc::XChaCha => {
                let mut h = Blake2b::<U32>::new();
                h.update(shared.as_bytes());
                h.update(PublicKey::from(eph).as_bytes());
                h.update(server);
                h.finalize().into()
            }
        };
        Self { enc, key }
    }

    pub fn encrypt(&self, pt: &[u8]) -> Vec<u8> {
        match self.enc {
            Enc::Gcm => {
                let mut iv = [0u8; 12];
                rand::thread_rng().fill_bytes(&mut iv);
                let ct = aes_gcm::Aes256Gcm::new(&self.key.into())
                    .encrypt(&iv.into(), pt)
                    .unwrap();
                [iv.to_vec(), ct].concat()
            }
            Enc::XChaCha => {
                let mut n = [0u8; 24];
                rand::thread_rng().fill_bytes(&mut n);
                let c = chacha20poly1305::XChaCha20Poly1305::new(&self.key.into());
                [n.to_vec(), c.encrypt(&n.into(), pt).unwrap()].concat()
            }
        }
    }

    pub fn decrypt(&self, ct: &[u8]) -> Option<Vec<u8>> {
        match self.enc {
            Enc::Gcm => {
                let (iv, body) = ct.split_at_checked(12)?;
                let iv: [u8; 12] = iv.try_into().ok()?;
                aes_gcm::Aes256Gcm::new(&self.key.into())
                    .decrypt(&iv.into(), body)
                    .ok()
            }
            Enc::XChaCha => {
                let (n, body) = ct.split_at_checked(24)?;
                let n: [u8; 24] = n.try_into().ok()?;
                chacha20poly1305::XChaCha20Poly1305::new(&self.key.into())
                    .decrypt(&n.into(), body)
                    .ok()
            }
        }
    }
}

fn frame(blob: &[u8], json: &Value) -> Vec<u8> {
    [
        (blob.len() as u32).to_le_bytes().to_vec(),
        blob.to_vec(),
        json.to_string().into_bytes(),
    ]
    .concat()
}

fn keypair() -> (StaticSecret, String) {
    let s = StaticSecret::random_from_rng(rand::rngs::OsRng);
    let p = hex::encode(PublicKey::from(&s).as_bytes());
    (s, p)
}

/// Wraps the destination blob for `[G, R1, R2]` (§5.3 steps 2–5); `last_json` is the JSON the
/// last path hop sees (relay to a snode, or a server route).
fn wrap_path(path: &[Snode], mut blob: Vec<u8>, mut last_json: Value, enc: Enc) -> Vec<u8> {
    for (i, hop) in path.iter().enumerate().rev() {
        let (eph, eph_pub) = keypair();
        let key = HopKey::new(enc, &eph, &hop.x);
        let layer = key.encrypt(&frame(&blob, &last_json));
        blob = layer;
        last_json = if i == 0 {
            json!({"ephemeral_key": eph_pub, "enc_type": enc.name()})
        } else {
            json!({"destination": hop.ed, "ephemeral_key": eph_pub, "enc_type": enc.name()})
        };
    }
    frame(&blob, &last_json)
}

/// An onion request over `path` (3 nodes) to snode `dest` with RPC `body` (§5.3).
pub fn onion_to_snode(path: &[Snode], dest: &Snode, body: &Value, enc: Enc) -> (Vec<u8>, HopKey) {
    let (eph, eph_pub) = keypair();
    let key = HopKey::new(enc, &eph, &dest.x);
    let inner = frame(
        body.to_string().as_bytes(),
        &json!({"headers": {}, "body": null}),
    );
    let blob = key.encrypt(&inner);
    let last = json!({"destination": dest.ed, "ephemeral_key": eph_pub, "enc_type": enc.name()});
    (wrap_path(path, blob, last, enc), key)
}

/// A v4 onion request over `path` to the server at `url` with key `server_x` (§5.5).
pub fn onion_to_server(
    path: &[Snode],
    url: &str,
    server_x: &[u8; 32],
    meta: &Value,
    body: Option<&[u8]>,
    enc: Enc,
) -> (Vec<u8>, HopKey) {
    let mut v4 = Vec::new();
    let m = meta.to_string();
    v4.extend_from_slice(format!("l{}:", m.len()).as_bytes());
    v4.extend_from_slice(m.as_bytes());
    if let Some(b) = body {
        v4.extend_from_slice(format!("{}:", b.len()).as_bytes());
        v4.extend_from_slice(b);
    }
    v4.push(b'e');
    let (eph, eph_pub) = keypair();
    let key = HopKey::new(enc, &eph, server_x);
    let blob = key.encrypt(&v4);
    let hostport = url.trim_start_matches("http://");
    let (host, port) = hostport.split_once(':').unwrap();
    let route = json!({"host": host, "target": "/oxen/v4/lsrpc", "method": "POST",
        "protocol": "http", "port": port.parse::<u16>().unwrap(),
        "ephemeral_key": eph_pub, "enc_type": enc.name()});
    (wrap_path(path, blob, route, enc), key)
}

/// Sends an onion request to the guard; returns (HTTP status, raw body).
pub async fn send_onion(http: &reqwest::Client, guard: &Snode, wire: Vec<u8>) -> (u16, Vec<u8>) {
    let resp = http
        .post(guard.url("/onion_req/v2"))
        .body(wire)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// Decodes a snode destination reply (§5.4 client decoding): returns (status, body string).
pub fn open_snode_reply(key: &HopKey, body: &[u8]) -> Option<(u64, String)> {
    let text = std::str::from_utf8(body).ok()?;
    let ct = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let plain = key.decrypt(&ct)?;
    let v: Value = serde_json::from_slice(&plain).ok()?;
    Some((v["status"].as_u64()?, v["body"].as_str()?.to_owned()))
}

/// Decodes a v4 server reply: (meta JSON, body bytes).
pub fn open_v4_reply(key: &HopKey, body: &[u8]) -> Option<(Value, Vec<u8>)> {
    let plain = key.decrypt(body)?;
    let mut rest = plain.strip_prefix(b"l")?;
    let mut items = Vec::new();
    while rest.first() != Some(&b'e') {
        let colon = rest.iter().position(|b| *b == b':')?;
        let len: usize = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
        items.push(rest.get(colon + 1..colon + 1 + len)?.to_vec());
        rest = &rest[colon + 1 + len..];
    }
    let meta = serde_json::from_slice(items.first()?).ok()?;
    Some((meta, items.get(1).cloned().unwrap_or_default()))
}
