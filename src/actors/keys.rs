//! [`AccountKeys`]: an account's decrypted keys, held in memory by its Identity actor only
//! (never written anywhere: the store keeps the sealed seed).

use zeroize::Zeroizing;

use super::ActorError;
use crate::ids::SessionIdText;
use crate::protocol::keys::{Identity, Seed};
use crate::protocol::storage::AccountId;

/// An account's keys and the forms of its id the pipeline uses.
pub struct AccountKeys {
    /// The Ed25519/X25519 identity (secret).
    pub identity: Identity,
    /// The Session ID as the storage RPC takes it.
    pub account: AccountId,
    /// The Session ID as the store keys rows by it (`05…`, 66 hex).
    pub session_id: String,
}

impl AccountKeys {
    /// Derives the keys from the stored seed (the 16 bytes a recovery phrase encodes, or a full
    /// 32-byte Ed25519 seed) and checks they belong to `session_id`.
    pub fn from_stored_seed(session_id: &SessionIdText, seed: &[u8]) -> Result<Self, ActorError> {
        let seed = match seed.len() {
            16 => {
                let mut entropy = Zeroizing::new([0u8; 16]);
                entropy.copy_from_slice(seed);
                Seed::from_entropy(&entropy)
            }
            _ => Seed::try_from(seed).map_err(|_| ActorError::SeedMismatch)?,
        };
        let identity = Identity::from_seed(seed);
        let derived = identity.session_id().to_string();
        if derived != session_id.as_str() {
            return Err(ActorError::SeedMismatch);
        }
        let account = AccountId::from_hex(&derived).map_err(|_| ActorError::SeedMismatch)?;
        Ok(Self {
            identity,
            account,
            session_id: derived,
        })
    }

    /// The first characters of the Session ID, for logs.
    pub fn short(&self) -> &str {
        self.session_id.get(..10).unwrap_or(&self.session_id)
    }
}

impl std::fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccountKeys({}…)", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `protocol/messages.md` §1.4: the seed `0123456789abcdef…` and its Session ID.
    const SESSION_ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn derives_and_checks_the_session_id() {
        let id = SessionIdText::parse(SESSION_ID).unwrap();
        let seed = hex::decode("0123456789abcdef0123456789abcdef").unwrap();
        let keys = AccountKeys::from_stored_seed(&id, &seed).unwrap();
        assert_eq!(keys.session_id, SESSION_ID);
        assert_eq!(keys.account.to_hex(), SESSION_ID);
        assert!(!format!("{keys:?}").contains(&SESSION_ID[10..]));
        let mut wrong = seed.clone();
        wrong[0] ^= 1;
        assert!(matches!(
            AccountKeys::from_stored_seed(&id, &wrong),
            Err(ActorError::SeedMismatch)
        ));
        assert!(AccountKeys::from_stored_seed(&id, &[0u8; 7]).is_err());
    }
}
