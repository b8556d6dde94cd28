//! Subaccount tokens: delegated access to an account (§4.2, SS `common/subaccount_token.h`,
//! `crypto/subaccount.cpp`).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};

use super::StorageError;

/// Length of a [`SubaccountToken`] in bytes.
pub const SUBACCOUNT_TOKEN_BYTES: usize = 36;

/// The permission bits of a [`SubaccountToken`] (byte 1). Unknown bits are kept as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SubaccountFlags(pub u8);

impl SubaccountFlags {
    /// No access.
    pub const NONE: Self = Self(0);
    /// Retrieve and read expiries.
    pub const READ: Self = Self(0x01);
    /// Store, and extend expiries.
    pub const WRITE: Self = Self(0x02);
    /// Delete, and shorten expiries.
    pub const DELETE: Self = Self(0x04);
    /// Valid for any network prefix of the same key, not only the token's.
    pub const ANY_PREFIX: Self = Self(0x08);

    /// Whether every bit of `required` is set.
    pub const fn contains(self, required: Self) -> bool {
        self.0 & required.0 == required.0
    }
}

impl std::ops::BitOr for SubaccountFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// Why a subaccount token does not grant a request (the checks of SS `subaccount.cpp`, in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubaccountCheckError {
    /// The token is for another network prefix and lacks `AnyPrefix`.
    #[error("subaccount token is for another network prefix")]
    WrongPrefix,
    /// The token lacks a permission the method needs.
    #[error("subaccount token lacks the required permission")]
    MissingPermission,
    /// The account key did not sign the token.
    #[error("subaccount token signature is invalid")]
    BadTokenSignature,
}

/// A subaccount token: the account owner's grant of access to another Ed25519 key.
///
/// Layout (36 bytes): `[0]` network prefix, `[1]` [`SubaccountFlags`], `[2..4]` reserved,
/// `[4..36]` the subaccount's Ed25519 public key. JSON carries it as base64 (exactly 48 chars)
/// or hex (72 chars); bt bodies as 36 raw bytes. The owner signs the 36 bytes (`subaccount_sig`);
/// the request signature is then made with the subaccount key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubaccountToken([u8; SUBACCOUNT_TOKEN_BYTES]);

impl SubaccountToken {
    /// A token granting `flags` on accounts with `prefix` to `pubkey`.
    pub fn new(prefix: u8, flags: SubaccountFlags, pubkey: &[u8; 32]) -> Self {
        let mut bytes = [0u8; SUBACCOUNT_TOKEN_BYTES];
        bytes[0] = prefix;
        bytes[1] = flags.0;
        bytes[4..].copy_from_slice(pubkey);
        Self(bytes)
    }

    /// The token from its 36 raw bytes.
    pub const fn from_bytes(bytes: [u8; SUBACCOUNT_TOKEN_BYTES]) -> Self {
        Self(bytes)
    }

    /// Parses the JSON form as the server does: 48 base64 characters, else 72 hex digits.
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        let mut bytes = [0u8; SUBACCOUNT_TOKEN_BYTES];
        if text.len() == 48 {
            if let Ok(decoded) = STANDARD.decode(text) {
                let raw: [u8; SUBACCOUNT_TOKEN_BYTES] = decoded
                    .try_into()
                    .map_err(|_| StorageError::InvalidSubaccountToken)?;
                return Ok(Self(raw));
            }
        }
        if text.len() == 72 && hex::decode_to_slice(text, &mut bytes).is_ok() {
            return Ok(Self(bytes));
        }
        Err(StorageError::InvalidSubaccountToken)
    }

    /// The 36 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; SUBACCOUNT_TOKEN_BYTES] {
        &self.0
    }

    /// The base64 form clients send (48 characters).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The network prefix the token is for.
    pub const fn prefix(&self) -> u8 {
        self.0[0]
    }

    /// The permission bits.
    pub const fn flags(&self) -> SubaccountFlags {
        SubaccountFlags(self.0[1])
    }

    /// The subaccount's Ed25519 public key (bytes 4..36), which verifies request signatures.
    pub fn pubkey(&self) -> [u8; 32] {
        let mut key = [0u8; 32];
        key.copy_from_slice(&self.0[4..]);
        key
    }

    /// Whether the token may act on an account with `prefix`: equal prefixes, or `AnyPrefix`.
    pub fn prefix_allowed(&self, prefix: u8) -> bool {
        self.prefix() == prefix || self.flags().contains(SubaccountFlags::ANY_PREFIX)
    }

    /// The prefix and permission checks, without the signature (SS order: prefix, then flags).
    pub fn check_access(
        &self,
        account_prefix: u8,
        required: SubaccountFlags,
    ) -> Result<(), SubaccountCheckError> {
        if !self.prefix_allowed(account_prefix) {
            return Err(SubaccountCheckError::WrongPrefix);
        }
        if !self.flags().contains(required) {
            return Err(SubaccountCheckError::MissingPermission);
        }
        Ok(())
    }

    /// All checks of SS `signed_subaccount_token::verify`: prefix, permissions, and the owner's
    /// signature over the 36 token bytes. `owner` is the account's Ed25519 key.
    pub fn verify(
        &self,
        account_prefix: u8,
        required: SubaccountFlags,
        owner: &VerifyingKey,
        token_signature: &Signature,
    ) -> Result<(), SubaccountCheckError> {
        self.check_access(account_prefix, required)?;
        owner
            .verify_strict(&self.0, token_signature)
            .map_err(|_| SubaccountCheckError::BadTokenSignature)
    }
}

impl fmt::Debug for SubaccountToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SubaccountToken(prefix={:02x}, flags={:02x}, key={:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[4], self.0[5]
        )
    }
}

impl serde::Serialize for SubaccountToken {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> serde::Deserialize<'de> for SubaccountToken {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn layout_and_parse() {
        let token = SubaccountToken::new(
            0x03,
            SubaccountFlags::READ | SubaccountFlags::WRITE,
            &[7; 32],
        );
        assert_eq!(token.as_bytes()[..4], [0x03, 0x03, 0, 0]);
        let b64 = token.to_base64();
        assert_eq!(b64.len(), 48);
        assert_eq!(SubaccountToken::parse(&b64).unwrap(), token);
        let hex = hex::encode(token.as_bytes());
        assert_eq!(SubaccountToken::parse(&hex).unwrap(), token);
        assert_eq!(SubaccountToken::parse(&hex.to_uppercase()).unwrap(), token);
        assert!(SubaccountToken::parse(&b64[1..]).is_err());
        assert!(SubaccountToken::parse(&hex[2..]).is_err());
        assert!(SubaccountToken::parse("").is_err());
        assert_eq!(token.pubkey(), [7; 32]);
    }

    #[test]
    fn checks_follow_subaccount_cpp() {
        let owner = SigningKey::from_bytes(&[1; 32]);
        let token = SubaccountToken::new(0x03, SubaccountFlags::READ, &[9; 32]);
        let sig = owner.sign(token.as_bytes());
        let vk = owner.verifying_key();
        assert_eq!(token.verify(0x03, SubaccountFlags::READ, &vk, &sig), Ok(()));
        assert_eq!(
            token.verify(0x05, SubaccountFlags::READ, &vk, &sig),
            Err(SubaccountCheckError::WrongPrefix)
        );
        assert_eq!(
            token.verify(0x03, SubaccountFlags::DELETE, &vk, &sig),
            Err(SubaccountCheckError::MissingPermission)
        );
        let other = SigningKey::from_bytes(&[2; 32]).verifying_key();
        assert_eq!(
            token.verify(0x03, SubaccountFlags::READ, &other, &sig),
            Err(SubaccountCheckError::BadTokenSignature)
        );
        let any = SubaccountToken::new(
            0x03,
            SubaccountFlags::READ | SubaccountFlags::ANY_PREFIX,
            &[9; 32],
        );
        assert_eq!(any.check_access(0x05, SubaccountFlags::READ), Ok(()));
        assert_eq!(
            token.check_access(0x03, SubaccountFlags::WRITE | SubaccountFlags::DELETE),
            Err(SubaccountCheckError::MissingPermission)
        );
    }

    proptest::proptest! {
        #[test]
        fn junk_never_panics(text in ".{0,80}") {
            let _ = SubaccountToken::parse(&text);
        }

        #[test]
        fn hex_junk_never_panics(text in "[0-9a-fA-F+/=]{40,80}") {
            if let Ok(token) = SubaccountToken::parse(&text) {
                proptest::prop_assert_eq!(SubaccountToken::parse(&token.to_base64()).unwrap(), token);
            }
        }
    }
}
