//! The server's header checks of communities.md §2.4, and junk fed to every community parser.

use super::*;
use crate::protocol::blinding::Blind15Nonce;
use crate::protocol::keys::{Identity, PrefixedId, Seed, X25519PublicKey};
use crate::protocol::vectors::unhex;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use proptest::prelude::*;

#[test]
fn server_checks_in_order() {
    let ok_key = "1598932d4bccbe595a8789d7eb1629cefc483a0eaddc7e20e8fe5c771efafd9af5";
    let nonce = "CdB5nyKVmQGCw6s0Bvv8Ww==";
    let sig = STANDARD.encode([0u8; 64]);
    let parse = |pk: &str, n: &str, ts: &str, s: &str, blind: bool| {
        SogsAuth::parse(Some(pk), Some(n), Some(ts), Some(s), blind).map(|_| ())
    };
    assert_eq!(SogsAuth::parse(None, None, None, None, true), Ok(None));
    assert_eq!(
        SogsAuth::parse(Some(ok_key), None, Some(""), None, true),
        Err(AuthError::MissingHeaders(3))
    );
    assert_eq!(
        parse("15zz", nonce, "1", &sig, true),
        Err(AuthError::PubkeyEncoding)
    );
    let prefix_05 = format!("05{}", &ok_key[2..]);
    assert_eq!(
        parse(&prefix_05, nonce, "1", &sig, true),
        Err(AuthError::PubkeyPrefix)
    );
    let small_order = format!("15{}", hex::encode([0u8; 32]));
    assert_eq!(
        parse(&small_order, nonce, "1", &sig, true),
        Err(AuthError::PubkeyPoint)
    );
    let unblinded = "00bac6e71efd7dfa4a83c98ed24f254ab2c267f9ccdb172a5280a0444ad24e89cc";
    assert_eq!(
        parse(unblinded, nonce, "1", &sig, true),
        Err(AuthError::BlindingRequired)
    );
    assert_eq!(parse(unblinded, nonce, "1", &sig, false), Ok(()));
    assert_eq!(
        parse(ok_key, "AAAA", "1", &sig, true),
        Err(AuthError::NonceEncoding)
    );
    assert_eq!(
        parse(ok_key, nonce, "1", "AAAA", true),
        Err(AuthError::SignatureEncoding)
    );
    assert_eq!(
        parse(ok_key, nonce, "1.5", &sig, true),
        Err(AuthError::TimestampEncoding)
    );
    // Base64 forms of the pubkey and hex signatures are accepted too.
    let b64_key = STANDARD.encode(unhex(ok_key));
    assert_eq!(
        parse(&b64_key, nonce, "1", &hex::encode([0u8; 64]), true),
        Ok(())
    );
    assert_eq!(signing_path("/x?").unwrap(), b"/x");
    assert_eq!(signing_path("/a%20b?c=%20").unwrap(), b"/a b?c=%20");
    assert_eq!(signing_path("/%zz"), Err(AuthError::InvalidPath));
    assert_eq!(signing_path("/%ff"), Err(AuthError::InvalidPath));
    assert_eq!(AuthError::TimestampWindow.status(), 425);
    assert_eq!(AuthError::BadSignature.status(), 401);
    assert_eq!(
        AuthError::MissingHeaders(2).to_string(),
        "Invalid authentication headers: missing 2/4 required X-SOGS-* headers"
    );
    let pid: PrefixedId = ok_key.parse().unwrap();
    assert_eq!(
        verify_post_signature(&pid, b"x", &[0; 64]),
        Err(PostError::BadSignature)
    );
}

proptest! {
    #[test]
    fn header_junk_never_panics(
        pk in proptest::option::of(".{0,90}"),
        nonce in proptest::option::of("[A-Za-z0-9+/=]{0,40}"),
        ts in proptest::option::of("[0-9a-z.-]{0,25}"),
        sig in proptest::option::of("[A-Za-z0-9+/=]{0,130}"),
        blind: bool,
    ) {
        let parsed = SogsAuth::parse(pk.as_deref(), nonce.as_deref(), ts.as_deref(), sig.as_deref(), blind);
        if let Ok(Some(auth)) = parsed {
            let _ = auth.verify(&X25519PublicKey::from_bytes([1; 32]), "GET", "/x", b"");
            let _ = auth.check_time(u64::MAX);
        }
    }

    #[test]
    fn hex_pubkeys_never_panic(key in "(00|15|25|05)[0-9a-f]{64}", blind: bool) {
        let _ = SogsAuth::parse(Some(&key), Some("CdB5nyKVmQGCw6s0Bvv8Ww=="), Some("1"), Some(&"A".repeat(86)), blind);
    }

    #[test]
    fn path_junk_never_panics(endpoint in "[/%a-fA-F0-9?&=\\PC]{0,60}") {
        if let Ok(path) = signing_path(&endpoint) {
            prop_assert!(path.len() <= endpoint.len());
        }
    }

    #[test]
    fn post_body_junk_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = CommunityPost::parse_body(&body);
    }

    #[test]
    fn post_bodies_round_trip(content in proptest::collection::vec(any::<u8>(), 0..400), ts: u64) {
        let id = Identity::from_seed(Seed::from_bytes([7; 32]));
        let spk = X25519PublicKey::from_bytes([9; 32]);
        let post = CommunityPost::new(&id, &spk, &content, ts, Blind15Nonce::Desktop);
        prop_assert_eq!(CommunityPost::parse_body(post.to_body().as_bytes()).unwrap(), post);
    }
}
