//! Secrets at rest: phrases/seeds and webhook secrets are sealed with ChaCha20-Poly1305 under the
//! configured master key (design.md §5).
//!
//! Sealed record layout (all stored as one BLOB):
//!
//! ```text
//! version (1 byte, 0x01) ‖ nonce (12 bytes, fresh random per record) ‖ ciphertext ‖ tag (16 bytes)
//! ```
//!
//! The AAD names the record (`"session-gateway/<kind>/<id>"`), so a sealed seed copied onto
//! another account's row fails to open instead of silently becoming that account's key.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore as _;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    /// `security.master_key` is not base64 of exactly 32 bytes.
    #[error("security.master_key must be base64 of exactly 32 bytes")]
    BadMasterKey,
    /// The record is shorter than its header and tag, or has an unknown version.
    #[error("sealed record is malformed")]
    Malformed,
    /// Authentication failed: another master key, or the record was altered or moved.
    #[error("sealed record does not open with this master key")]
    WrongKey,
}

/// The 32-byte key that seals every secret the gateway stores. Never printed.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// What a sealed record protects; part of the AAD.
#[derive(Clone, Copy, Debug)]
pub enum RecordKind {
    /// An account's seed (the recovery phrase's 16 bytes, or 32 bytes of Ed25519 seed).
    AccountSeed,
    /// A webhook's signing secrets.
    WebhookSecrets,
    /// The start-up check value.
    Check,
    /// A contact's 32-byte profile (avatar) key, per account and peer.
    ContactProfileKey,
    /// An attachment pointer's key (record id = the attachment id).
    AttachmentKey,
    /// An attachment's plaintext bytes (record id = the attachment id).
    AttachmentData,
    /// Our own avatar's profile key (id = the account).
    OwnProfileKey,
    /// An account's grant to a group: the group seed (admins) or its memberAuthData
    /// (id = `account/group`).
    GroupSecret,
    /// A group config message's plaintext (id = `group/namespace/hash`).
    GroupConfig,
    /// One of the account's own config messages, plaintext (id = `account/namespace/hash`).
    UserConfig,
}

impl RecordKind {
    fn label(self) -> &'static str {
        match self {
            Self::AccountSeed => "account-seed",
            Self::WebhookSecrets => "webhook-secrets",
            Self::Check => "check",
            Self::ContactProfileKey => "contact-profile-key",
            Self::AttachmentKey => "attachment-key",
            Self::AttachmentData => "attachment-data",
            Self::OwnProfileKey => "profile-key",
            Self::GroupSecret => "group-secret",
            Self::GroupConfig => "group-config",
            Self::UserConfig => "user-config",
        }
    }
}

fn aad(kind: RecordKind, id: &str) -> Vec<u8> {
    format!("session-gateway/{}/{id}", kind.label()).into_bytes()
}

impl MasterKey {
    /// Parses `security.master_key` (standard base64, 32 bytes).
    pub fn from_base64(text: &str) -> Result<Self, SecretsError> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| SecretsError::BadMasterKey)?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SecretsError::BadMasterKey)?;
        Ok(Self(Zeroizing::new(key)))
    }

    /// A fresh random key (tests, and `serve --devnet` when none is configured).
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// The key as base64, for writing a generated key to the data directory.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.as_ref()))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(self.0.as_ref()))
    }

    /// Seals `plaintext` as record `id` of `kind` with a fresh random nonce.
    pub fn seal(&self, kind: RecordKind, id: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = aad(kind, id);
        // Encryption with a valid key and nonce cannot fail for in-memory buffers below 256 GiB;
        // an empty output would fail to open later and be reported then.
        let ciphertext = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a record sealed by [`MasterKey::seal`] with the same `kind` and `id`.
    pub fn open(
        &self,
        kind: RecordKind,
        id: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
        let (version, rest) = sealed.split_first().ok_or(SecretsError::Malformed)?;
        if *version != VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Malformed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = aad(kind, id);
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretsError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_fresh_nonces() {
        let key = MasterKey::generate();
        let a = key.seal(RecordKind::AccountSeed, "05ab", b"phrase words");
        let b = key.seal(RecordKind::AccountSeed, "05ab", b"phrase words");
        assert_ne!(a, b, "each record gets its own nonce");
        let opened = key.open(RecordKind::AccountSeed, "05ab", &a).unwrap();
        assert_eq!(opened.as_slice(), b"phrase words");
    }

    #[test]
    fn aad_binds_the_record() {
        let key = MasterKey::generate();
        let sealed = key.seal(RecordKind::AccountSeed, "05ab", b"seed");
        assert_eq!(
            key.open(RecordKind::AccountSeed, "05cd", &sealed),
            Err(SecretsError::WrongKey)
        );
        assert_eq!(
            key.open(RecordKind::WebhookSecrets, "05ab", &sealed),
            Err(SecretsError::WrongKey)
        );
    }

    #[test]
    fn wrong_key_is_detected() {
        let sealed = MasterKey::generate().seal(RecordKind::Check, "", b"x");
        assert_eq!(
            MasterKey::generate().open(RecordKind::Check, "", &sealed),
            Err(SecretsError::WrongKey)
        );
    }

    #[test]
    fn master_key_parsing() {
        let key = MasterKey::generate();
        let parsed = MasterKey::from_base64(&key.to_base64()).unwrap();
        let sealed = key.seal(RecordKind::Check, "", b"x");
        assert!(parsed.open(RecordKind::Check, "", &sealed).is_ok());
        assert_eq!(
            MasterKey::from_base64("c2hvcnQ=").unwrap_err(),
            SecretsError::BadMasterKey
        );
        assert_eq!(
            MasterKey::from_base64("not base64!").unwrap_err(),
            SecretsError::BadMasterKey
        );
        assert!(!format!("{key:?}").contains(&*key.to_base64()));
    }

    proptest! {
        #[test]
        fn junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let key = MasterKey::generate();
            prop_assert!(key.open(RecordKind::AccountSeed, "x", &bytes).is_err());
        }
    }
}
