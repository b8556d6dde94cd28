//! Checking a client's request signature the way a node does (§4.2, SS `request_handler.cpp
//! verify_signature`, `crypto/subaccount.cpp`). The revocation lookup is the caller's (it needs
//! the node's database): do it before calling [`verify_request_signature`] with a subaccount.

use ed25519_dalek::{Signature, VerifyingKey};

use super::{AccountId, StorageError, SubaccountCheckError, SubaccountFlags, SubaccountToken};

/// Why a request signature was refused. Every case is a 401 for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `pubkey_ed25519` does not convert to the account's X25519 key.
    #[error("pubkey_ed25519 does not match the account")]
    EdKeyMismatch,
    /// The key that should verify is not a valid Ed25519 point.
    #[error("invalid Ed25519 public key")]
    InvalidKey,
    /// The subaccount token was refused.
    #[error(transparent)]
    Subaccount(#[from] SubaccountCheckError),
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
}

/// Parses `pubkey_ed25519` (64 hex digits in either case, or 32 raw bytes), allowed only for `05`
/// accounts; errors carry the server's texts.
pub fn parse_pubkey_ed25519(account: &AccountId, value: &[u8]) -> Result<[u8; 32], String> {
    if account.prefix() != 0x05 {
        return Err("pubkey_ed25519 is only permitted for 05[...] pubkeys".to_owned());
    }
    let mut key = [0u8; 32];
    match value.len() {
        64 => hex::decode_to_slice(value, &mut key)
            .map(|()| key)
            .map_err(|_| "invalid pubkey_ed25519: value is not hex".to_owned()),
        32 => {
            key.copy_from_slice(value);
            Ok(key)
        }
        _ => Err("Invalid pubkey_ed25519: expected 64 hex char or 32 byte pubkey".to_owned()),
    }
}

/// Verifies `signature` over `message` for `account`, as SS does:
///
/// 1. the account key is `pubkey_ed25519` (for `05`, after checking it converts to the account's
///    X25519 key), else the account's own 32 bytes read as an Ed25519 key;
/// 2. with a subaccount, the token must allow the prefix and `required`, and be signed by that
///    account key; the token's key then verifies the request;
/// 3. the signature must verify (strict Ed25519).
pub fn verify_request_signature(
    account: &AccountId,
    pubkey_ed25519: Option<&[u8; 32]>,
    subaccount: Option<(&SubaccountToken, &Signature)>,
    required: SubaccountFlags,
    message: &[u8],
    signature: &Signature,
) -> Result<(), VerifyError> {
    let mut key = match pubkey_ed25519 {
        Some(ed) if account.prefix() == 0x05 => {
            let key = VerifyingKey::from_bytes(ed).map_err(|_| VerifyError::InvalidKey)?;
            if key.to_montgomery().as_bytes() != account.key() {
                return Err(VerifyError::EdKeyMismatch);
            }
            key
        }
        _ => VerifyingKey::from_bytes(account.key()).map_err(|_| VerifyError::InvalidKey)?,
    };
    if let Some((token, token_signature)) = subaccount {
        token.verify(account.prefix(), required, &key, token_signature)?;
        key = VerifyingKey::from_bytes(&token.pubkey()).map_err(|_| VerifyError::InvalidKey)?;
    }
    key.verify_strict(message, signature)
        .map_err(|_| VerifyError::BadSignature)
}

/// Decodes the JSON `signature` / `subaccount_sig` text (86 or 88-with-`==` base64).
pub fn parse_signature(text: &str) -> Result<Signature, StorageError> {
    super::response::decode_signature(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn session_id_with_ed_key() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let ed = key.verifying_key().to_bytes();
        let account = AccountId::new(5, key.verifying_key().to_montgomery().to_bytes());
        let sig = key.sign(b"retrieve1700000000000");
        let none = SubaccountFlags::NONE;
        assert_eq!(
            verify_request_signature(
                &account,
                Some(&ed),
                None,
                none,
                b"retrieve1700000000000",
                &sig
            ),
            Ok(())
        );
        assert_eq!(
            verify_request_signature(
                &account,
                Some(&ed),
                None,
                none,
                b"retrieve1700000000001",
                &sig
            ),
            Err(VerifyError::BadSignature)
        );
        let other = SigningKey::from_bytes(&[6; 32]).verifying_key().to_bytes();
        assert_eq!(
            verify_request_signature(&account, Some(&other), None, none, b"x", &sig),
            Err(VerifyError::EdKeyMismatch)
        );
        // Without pubkey_ed25519 the X25519 bytes are used as an Ed25519 key and fail.
        assert_ne!(
            verify_request_signature(&account, None, None, none, b"retrieve1700000000000", &sig),
            Ok(())
        );
        assert_eq!(
            parse_pubkey_ed25519(&account, hex::encode_upper(ed).as_bytes()),
            Ok(ed)
        );
        assert_eq!(parse_pubkey_ed25519(&account, &ed), Ok(ed));
        assert!(parse_pubkey_ed25519(&account, b"zz").is_err());
        assert_eq!(
            parse_pubkey_ed25519(&AccountId::new(3, ed), &ed).unwrap_err(),
            "pubkey_ed25519 is only permitted for 05[...] pubkeys"
        );
    }

    #[test]
    fn group_with_subaccount() {
        let group_key = SigningKey::from_bytes(&[7; 32]);
        let group = AccountId::new(3, group_key.verifying_key().to_bytes());
        let member = SigningKey::from_bytes(&[8; 32]);
        let token =
            SubaccountToken::new(3, SubaccountFlags::READ, member.verifying_key().as_bytes());
        let token_sig = group_key.sign(token.as_bytes());
        let sig = member.sign(b"retrieve111");
        let sub = Some((&token, &token_sig));
        assert_eq!(
            verify_request_signature(
                &group,
                None,
                sub,
                SubaccountFlags::READ,
                b"retrieve111",
                &sig
            ),
            Ok(())
        );
        assert_eq!(
            verify_request_signature(
                &group,
                None,
                sub,
                SubaccountFlags::WRITE,
                b"retrieve111",
                &sig
            ),
            Err(VerifyError::Subaccount(
                SubaccountCheckError::MissingPermission
            ))
        );
        let admin_sig = group_key.sign(b"retrieve111");
        assert_eq!(
            verify_request_signature(
                &group,
                None,
                None,
                SubaccountFlags::READ,
                b"retrieve111",
                &admin_sig
            ),
            Ok(())
        );
    }

    proptest::proptest! {
        #[test]
        fn junk_never_panics(prefix: u8, key: [u8; 32], ed: Option<[u8; 32]>, sig: [u8; 64], token: [u8; 36]) {
            let account = AccountId::new(prefix, key);
            let token = SubaccountToken::from_bytes(token);
            let sig = Signature::from_bytes(&sig);
            let _ = verify_request_signature(&account, ed.as_ref(), Some((&token, &sig)), SubaccountFlags::READ, b"m", &sig);
            let _ = verify_request_signature(&account, ed.as_ref(), None, SubaccountFlags::READ, b"m", &sig);
            let _ = parse_pubkey_ed25519(&account, &key);
        }
    }
}
