//! Vectors of communities.md §1.1 and §9 (`tests/vectors/communities.json`) and junk tests.

use super::*;
use crate::protocol::blinding::{
    blind15_ids, blind15_key_pair, blind25_id, blind25_key_pair, decrypt_from_blinded_recipient,
    encrypt_for_blinded_recipient, Blind15Nonce, BlindedId,
};
use crate::protocol::keys::{Identity, Seed, SessionId, X25519PublicKey};
use crate::protocol::vectors::{hex_array, load, unhex, Source};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blake2::{Blake2b512, Digest};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    description: String,
    urls: Vec<UrlVector>,
    x_sogs: XSogs,
    blinded_ids: Vec<BlindedIdVector>,
    blind25_ids: Vec<BlindedIdVector>,
    post: PostVector,
    reaction: ReactionVector,
    blinded_dm: DmVector,
    onion_ephemeral_key: OnionKey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UrlVector {
    source: Source,
    url: String,
    base: Option<String>,
    room: Option<String>,
    server_pk: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct XSogs {
    source: Source,
    seed: String,
    ed25519_pk: String,
    session_id: String,
    session_id_source: Source,
    server_pk: String,
    blind15_factor: String,
    blinded_pubkey: String,
    unblinded_pubkey: String,
    timestamp: u64,
    nonce: String,
    nonce_hex: String,
    method: String,
    endpoint: String,
    to_sign_no_body: String,
    body_utf8: String,
    body_blake2b: String,
    cases: Vec<XSogsCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct XSogsCase {
    source: Source,
    seed: String,
    server_pk: String,
    key: String,
    method: String,
    endpoint: String,
    body_utf8: Option<String>,
    timestamp: u64,
    nonce: String,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlindedIdVector {
    source: Source,
    seed: String,
    server_pk: String,
    blinded_id: String,
    session_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostVector {
    source: Source,
    seed: String,
    server_pk: String,
    content: String,
    sent_ms: u64,
    padded_len: usize,
    signature_desktop: String,
    signature_libsession: String,
    body: String,
    body_blake2b: String,
    endpoint: String,
    timestamp: u64,
    nonce: String,
    header_signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReactionVector {
    source: Source,
    seed: String,
    server_pk: String,
    method: String,
    endpoints: Vec<String>,
    signed_path: String,
    timestamp: u64,
    nonce: String,
    blinded_signature: String,
    unblinded_signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DmVector {
    source: Source,
    sender_seed: String,
    sender_blinded_key: String,
    recipient_seed: String,
    recipient_blinded_key: String,
    server_pk: String,
    message_utf8: String,
    nonce: String,
    shared_point: String,
    shared_key: String,
    output: String,
    sender_session_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnionKey {
    source: Source,
    x25519_secret: String,
    x25519_public: String,
}

fn file() -> File {
    let file: File = load(include_str!("../../../tests/vectors/communities.json"));
    assert!(file.description.contains("§9"));
    file
}

fn identity(seed: &str) -> Identity {
    Identity::from_seed(Seed::from_bytes(hex_array(seed)))
}

fn server(hex: &str) -> X25519PublicKey {
    X25519PublicKey::from_bytes(hex_array(hex))
}

fn key_mode(name: &str) -> SogsKey {
    match name {
        "blinded-desktop" => SogsKey::Blinded(Blind15Nonce::Desktop),
        "blinded-libsession" => SogsKey::Blinded(Blind15Nonce::Libsession),
        "unblinded" => SogsKey::Unblinded,
        other => panic!("unknown key mode {other}"),
    }
}

#[test]
fn urls() {
    let urls = file().urls;
    assert!(urls.len() >= 10);
    for v in urls {
        v.source.check();
        let parsed = CommunityUrl::parse(&v.url);
        match v.error.as_deref() {
            None => {
                let url = parsed.unwrap_or_else(|e| panic!("{}: {e}", v.url));
                assert_eq!(url.base(), v.base.unwrap(), "{}", v.url);
                assert_eq!(url.room(), v.room.unwrap());
                assert_eq!(url.server_pubkey(), &server(&v.server_pk.unwrap()));
                assert_eq!(CommunityUrl::parse(&url.to_string()).unwrap(), url);
                let rebuilt = CommunityUrl::new(url.base(), url.room(), *url.server_pubkey());
                assert_eq!(rebuilt.unwrap(), url);
            }
            Some(expected) => {
                let error = parsed.expect_err(&v.url);
                let name = match error {
                    UrlError::Scheme => "scheme",
                    UrlError::Host => "host",
                    UrlError::Port => "port",
                    UrlError::TooLong => "too_long",
                    UrlError::Room => "room",
                    UrlError::PublicKey => "public_key",
                };
                assert_eq!(name, expected, "{}", v.url);
            }
        }
    }
}

#[test]
fn x_sogs_inputs_and_signed_bytes() {
    let v = file().x_sogs;
    v.source.check();
    v.session_id_source.check();
    let id = identity(&v.seed);
    let spk = server(&v.server_pk);
    assert_eq!(id.ed25519_public().to_string(), v.ed25519_pk);
    assert_eq!(id.session_id().to_string(), v.session_id);
    let k = crate::protocol::blinding::blind15_factor(&spk);
    assert_eq!(hex::encode(k.as_bytes()), v.blind15_factor);
    let nonce = SogsNonce::parse(&v.nonce).unwrap();
    assert_eq!(hex::encode(nonce.as_bytes()), v.nonce_hex);
    assert_eq!(SogsNonce::parse(&v.nonce_hex).unwrap(), nonce);
    assert_eq!(nonce.to_base64(), v.nonce);
    let path = signing_path(&v.endpoint).unwrap();
    let ts = v.timestamp.to_string();
    let to_sign = bytes_to_sign(&spk, &nonce, &ts, &v.method, &path, b"");
    assert_eq!(hex::encode(&to_sign), v.to_sign_no_body);
    let body = v.body_utf8.as_bytes();
    assert_eq!(hex::encode(Blake2b512::digest(body)), v.body_blake2b);
    let with_body = bytes_to_sign(&spk, &nonce, &ts, &v.method, &path, body);
    assert_eq!(with_body[..to_sign.len()], to_sign[..]);
    assert_eq!(hex::encode(&with_body[to_sign.len()..]), v.body_blake2b);
    for (key, expected) in [
        (SogsKey::Blinded(Blind15Nonce::Desktop), &v.blinded_pubkey),
        (SogsKey::Unblinded, &v.unblinded_pubkey),
    ] {
        let auth = SogsAuth::sign(&id, &spk, key, "GET", "/", b"", 1, nonce).unwrap();
        assert_eq!(&auth.pubkey().to_string(), expected);
    }
}

#[test]
fn x_sogs_signatures() {
    let cases = file().x_sogs.cases;
    assert_eq!(cases.len(), 6);
    for v in cases {
        v.source.check();
        let id = identity(&v.seed);
        let spk = server(&v.server_pk);
        let nonce = SogsNonce::parse(&v.nonce).unwrap();
        let body = v.body_utf8.as_deref().unwrap_or("").as_bytes();
        let mode = key_mode(&v.key);
        let auth = SogsAuth::sign(
            &id,
            &spk,
            mode,
            &v.method,
            &v.endpoint,
            body,
            v.timestamp,
            nonce,
        )
        .unwrap();
        let headers = auth.headers();
        assert_eq!(
            headers[3],
            (HEADER_SIGNATURE, v.signature.clone()),
            "{}",
            v.key
        );
        assert_eq!(headers[1].1, v.timestamp.to_string());
        assert_eq!(headers[2].1, v.nonce);
        // The server side accepts what we sent, and rejects any other body.
        let parsed = SogsAuth::parse(
            Some(&headers[0].1),
            Some(&headers[2].1),
            Some(&headers[1].1),
            Some(&headers[3].1),
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(parsed, auth);
        parsed.verify(&spk, &v.method, &v.endpoint, body).unwrap();
        assert_eq!(
            parsed.verify(&spk, &v.method, &v.endpoint, b"other"),
            Err(AuthError::BadSignature)
        );
        parsed.check_time(v.timestamp + TIMESTAMP_WINDOW_S).unwrap();
        assert_eq!(
            parsed.check_time(v.timestamp - TIMESTAMP_WINDOW_S - 1),
            Err(AuthError::TimestampWindow)
        );
    }
}

#[test]
fn blinded_ids_pysogs() {
    let file = file();
    assert_eq!(file.blinded_ids.len(), 20);
    assert_eq!(file.blind25_ids.len(), 20);
    for v in file.blinded_ids {
        v.source.check();
        let id = identity(&v.seed);
        let spk = server(&v.server_pk);
        let pair = blind15_key_pair(&id, &spk);
        assert_eq!(pair.id().to_string(), v.blinded_id);
        // The server's view from the Session ID alone: one of the two candidates.
        let expected: BlindedId = v.blinded_id.parse().unwrap();
        assert!(blind15_ids(&id.session_id(), &spk)
            .unwrap()
            .contains(&expected));
        if let Some(sid) = v.session_id {
            assert_eq!(id.session_id(), sid.parse::<SessionId>().unwrap());
        }
    }
    let mut flipped = 0;
    for v in file.blind25_ids {
        v.source.check();
        let id = identity(&v.seed);
        let spk = server(&v.server_pk);
        let pair = blind25_key_pair(&id, &spk);
        assert_eq!(*pair.id(), blind25_id(&id.session_id(), &spk).unwrap());
        // PYSOGS multiplies k25 by a as is; libsession negates k25 for a negative A so that
        // the ID follows from the Session ID alone. The two differ exactly in the sign bit.
        let expected: BlindedId = v.blinded_id.parse().unwrap();
        if id.ed25519_public().as_bytes()[31] & 0x80 != 0 {
            assert_eq!(pair.id().sign_flipped(), expected, "{}", v.seed);
            flipped += 1;
        } else {
            assert_eq!(*pair.id(), expected, "{}", v.seed);
        }
    }
    assert!(flipped > 0 && flipped < 20);
}

#[test]
fn community_post() {
    let v = file().post;
    v.source.check();
    let id = identity(&v.seed);
    let spk = server(&v.server_pk);
    let content = unhex(&v.content);
    let post = CommunityPost::new(&id, &spk, &content, v.sent_ms, Blind15Nonce::Desktop);
    assert_eq!(post.data().len(), v.padded_len);
    assert_eq!(post.data()[..content.len()], content[..]);
    assert_eq!(post.data()[content.len()], 0x80);
    assert!(post.data()[content.len() + 1..].iter().all(|&b| b == 0));
    assert_eq!(hex::encode(post.signature()), v.signature_desktop);
    assert_eq!(post.to_body(), v.body);
    assert_eq!(
        hex::encode(Blake2b512::digest(v.body.as_bytes())),
        v.body_blake2b
    );
    let libsession = CommunityPost::new(&id, &spk, &content, v.sent_ms, Blind15Nonce::Libsession);
    assert_eq!(hex::encode(libsession.signature()), v.signature_libsession);

    // Receivers verify both against kA.
    let author = blind15_key_pair(&id, &spk).id().to_prefixed();
    for p in [&post, &libsession] {
        verify_post_signature(&author, p.data(), p.signature()).unwrap();
    }
    let parsed = CommunityPost::parse_body(v.body.as_bytes()).unwrap();
    assert_eq!(parsed, post);

    let nonce = SogsNonce::parse(&v.nonce).unwrap();
    let mode = SogsKey::Blinded(Blind15Nonce::Desktop);
    let body = post.to_body();
    let auth = SogsAuth::sign(
        &id,
        &spk,
        mode,
        "POST",
        &v.endpoint,
        body.as_bytes(),
        v.timestamp,
        nonce,
    )
    .unwrap();
    assert_eq!(STANDARD.encode(auth.signature()), v.header_signature);
}

#[test]
fn reaction_path_signing() {
    let v = file().reaction;
    v.source.check();
    let id = identity(&v.seed);
    let spk = server(&v.server_pk);
    let nonce = SogsNonce::parse(&v.nonce).unwrap();
    assert_eq!(v.endpoints.len(), 2);
    for endpoint in &v.endpoints {
        assert_eq!(hex::encode(signing_path(endpoint).unwrap()), v.signed_path);
        for (mode, expected) in [
            (
                SogsKey::Blinded(Blind15Nonce::Desktop),
                &v.blinded_signature,
            ),
            (SogsKey::Unblinded, &v.unblinded_signature),
        ] {
            let auth = SogsAuth::sign(
                &id,
                &spk,
                mode,
                &v.method,
                endpoint,
                b"",
                v.timestamp,
                nonce,
            )
            .unwrap();
            assert_eq!(&STANDARD.encode(auth.signature()), expected);
        }
    }
}

/// An RNG that yields 0, 1, 2, …: the fixed nonce of §9.4 through the ordinary API.
struct CountingRng(u8);

impl rand::RngCore for CountingRng {
    fn next_u32(&mut self) -> u32 {
        rand::RngCore::next_u64(self) as u32
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand::CryptoRng for CountingRng {}

#[test]
fn blinded_dm_fixed_nonce() {
    let v = file().blinded_dm;
    v.source.check();
    let sender = identity(&v.sender_seed);
    let recipient = identity(&v.recipient_seed);
    let spk = server(&v.server_pk);
    let a = blind15_key_pair(&sender, &spk);
    let b = blind15_key_pair(&recipient, &spk);
    assert_eq!(a.id().key().to_string(), v.sender_blinded_key);
    assert_eq!(b.id().key().to_string(), v.recipient_blinded_key);
    let (point, key) = crate::protocol::blinding::blinded_dm_secrets(&sender, &spk, b.id());
    assert_eq!(hex::encode(point), v.shared_point);
    assert_eq!(hex::encode(key), v.shared_key);

    let out = encrypt_for_blinded_recipient(
        &sender,
        &spk,
        b.id(),
        v.message_utf8.as_bytes(),
        &mut CountingRng(0),
    )
    .unwrap();
    assert_eq!(hex::encode(&out), v.output);
    assert_eq!(hex::encode(&out[out.len() - 24..]), v.nonce);
    let opened = decrypt_from_blinded_recipient(&recipient, &spk, a.id(), b.id(), &out).unwrap();
    assert_eq!(opened.plaintext, v.message_utf8.as_bytes());
    assert_eq!(opened.sender_session_id.to_string(), v.sender_session_id);
}

#[test]
fn onion_ephemeral_key() {
    let v = file().onion_ephemeral_key;
    v.source.check();
    let public = x25519_dalek::x25519(
        hex_array(&v.x25519_secret),
        x25519_dalek::X25519_BASEPOINT_BYTES,
    );
    assert_eq!(hex::encode(public), v.x25519_public);
}
