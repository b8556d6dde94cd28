//! Standard Webhooks signatures (<https://www.standardwebhooks.com>, the Svix scheme):
//!
//! ```text
//! secret            = "whsec_" ‖ base64(key), key 24..=64 random bytes
//! signed content    = webhook-id ‖ "." ‖ webhook-timestamp (decimal seconds) ‖ "." ‖ body
//! webhook-signature = "v1," ‖ base64(HMAC-SHA256(key, signed content)), several separated by
//!                     spaces while a rotated-out secret is still in its grace period
//! ```
//!
//! Test vector: `tests/vectors/webhooks.json`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

const PREFIX: &str = "whsec_";
const MIN_KEY: usize = 24;
const MAX_KEY: usize = 64;

/// Why a secret was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not `whsec_` followed by base64 of 24 to 64 bytes.
    #[error("a webhook secret is \"whsec_\" followed by base64 of 24 to 64 bytes")]
    BadSecret,
}

/// A new random secret (24 bytes, like Svix's).
pub fn generate_secret() -> String {
    let mut key = Zeroizing::new([0u8; MIN_KEY]);
    rand::rngs::OsRng.fill_bytes(key.as_mut());
    format!("{PREFIX}{}", STANDARD.encode(key.as_ref()))
}

/// The HMAC key inside a `whsec_…` secret.
pub fn secret_key(secret: &str) -> Result<Zeroizing<Vec<u8>>, SignatureError> {
    let encoded = secret
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::BadSecret)?;
    let key = Zeroizing::new(
        STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::BadSecret)?,
    );
    if (MIN_KEY..=MAX_KEY).contains(&key.len()) {
        Ok(key)
    } else {
        Err(SignatureError::BadSecret)
    }
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC-SHA256.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// One `v1,<base64>` signature.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let key = secret_key(secret)?;
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac(&key, id, timestamp, body))
    ))
}

/// The `webhook-signature` header: one signature per secret, space-separated. Secrets that do
/// not parse (impossible for stored ones, which are checked on entry) are skipped.
pub fn header<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .filter_map(|secret| sign(secret, id, timestamp, body).ok())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether any `v1` signature in `header` was made with `secret` (constant-time compare), for
/// receivers written in Rust and for our tests.
pub fn verify(secret: &str, header: &str, id: &str, timestamp: i64, body: &[u8]) -> bool {
    let Ok(key) = secret_key(secret) else {
        return false;
    };
    let expected = mac(&key, id, timestamp, body);
    header.split(' ').any(|part| {
        part.strip_prefix("v1,")
            .and_then(|sig| STANDARD.decode(sig).ok())
            .is_some_and(|sig| bool::from(sig.as_slice().ct_eq(expected.as_slice())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_secrets_parse() {
        let secret = generate_secret();
        assert_eq!(secret_key(&secret).unwrap().len(), 24);
    }

    #[test]
    fn rotation_header_verifies_with_either_secret() {
        let (a, b) = (generate_secret(), generate_secret());
        let header = header([a.as_str(), b.as_str()], "evt_1", 1_700_000_000, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(verify(&a, &header, "evt_1", 1_700_000_000, b"{}"));
        assert!(verify(&b, &header, "evt_1", 1_700_000_000, b"{}"));
        assert!(!verify(
            &generate_secret(),
            &header,
            "evt_1",
            1_700_000_000,
            b"{}"
        ));
        assert!(!verify(&a, &header, "evt_2", 1_700_000_000, b"{}"));
    }

    #[test]
    fn bad_secrets_are_rejected() {
        for bad in [
            "",
            "whsec_",
            "whsec_c2hvcnQ=",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!",
        ] {
            assert_eq!(
                secret_key(bad).unwrap_err(),
                SignatureError::BadSecret,
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn junk_headers_never_verify_or_panic(header in ".{0,200}", secret in ".{0,60}") {
            let good = generate_secret();
            prop_assert!(!verify(&good, &header, "evt_1", 1, b"x"));
            let _ = verify(&secret, &header, "evt_1", 1, b"x");
        }
    }
}
