//! What the account service needs from the protocol layer: fresh identities, identities from a
//! recovery phrase, and a seed's phrase for export.
//!
//! The gateway depends on this trait rather than on `protocol::keys` directly so the API and
//! store can be tested on their own; [`SessionIdentities`] is the real implementation.

use zeroize::Zeroizing;

use crate::ids::SessionIdText;
use crate::protocol::keys::Identity;
use crate::protocol::phrase::RecoveryPhrase;

/// Why an identity could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// The phrase has the wrong words, count or checksum.
    #[error("invalid recovery phrase: {0}")]
    InvalidPhrase(String),
    /// The stored seed has an impossible length.
    #[error("stored seed is malformed")]
    BadSeed,
}

/// A new or imported identity. The seed is what the store seals; the phrase is shown once.
pub struct NewIdentity {
    /// The account's Session ID.
    pub session_id: SessionIdText,
    /// The secret to store (the 16 bytes the phrase encodes).
    pub seed: Zeroizing<Vec<u8>>,
    /// The 13-word recovery phrase.
    pub phrase: Zeroizing<String>,
}

/// Creates and restores identities.
pub trait IdentityProvider: Send + Sync + 'static {
    /// A fresh random identity.
    fn generate(&self) -> Result<NewIdentity, IdentityError>;
    /// The identity a recovery phrase encodes.
    fn restore(&self, phrase: &str) -> Result<NewIdentity, IdentityError>;
    /// The recovery phrase of a stored seed.
    fn phrase_for_seed(&self, seed: &[u8]) -> Result<Zeroizing<String>, IdentityError>;
}

/// The real identities: `protocol::keys` and `protocol::phrase` (`protocol/messages.md` §1.1,
/// §1.2). The stored seed is the 16 bytes of entropy the phrase encodes; the Ed25519 seed is
/// those bytes right-padded with 16 zeros, as every Session client makes it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SessionIdentities;

fn new_identity(identity: &Identity) -> Result<NewIdentity, IdentityError> {
    let phrase = identity.recovery_phrase().ok_or(IdentityError::BadSeed)?;
    let session_id = SessionIdText::parse(&identity.session_id().to_string())
        .map_err(|_| IdentityError::BadSeed)?;
    Ok(NewIdentity {
        session_id,
        seed: Zeroizing::new(phrase.entropy().to_vec()),
        phrase: Zeroizing::new(phrase.expose_secret().to_owned()),
    })
}

impl IdentityProvider for SessionIdentities {
    fn generate(&self) -> Result<NewIdentity, IdentityError> {
        new_identity(&Identity::generate(&mut rand::rngs::OsRng))
    }

    fn restore(&self, phrase: &str) -> Result<NewIdentity, IdentityError> {
        let identity = Identity::from_phrase(phrase)
            .map_err(|e| IdentityError::InvalidPhrase(e.to_string()))?;
        new_identity(&identity)
    }

    fn phrase_for_seed(&self, seed: &[u8]) -> Result<Zeroizing<String>, IdentityError> {
        let entropy: &[u8; 16] = seed.try_into().map_err(|_| IdentityError::BadSeed)?;
        Ok(Zeroizing::new(
            RecoveryPhrase::from_entropy(entropy)
                .expose_secret()
                .to_owned(),
        ))
    }
}

/// The Session ID a stored seed belongs to: 16 bytes of phrase entropy (what the gateway
/// stores for its accounts) or a 32-byte Ed25519 seed. Lets an import check that a seed and
/// the Session ID it came with agree.
pub fn session_id_of_seed(seed: &[u8]) -> Result<SessionIdText, IdentityError> {
    let seed = match <&[u8; 16]>::try_from(seed) {
        Ok(entropy) => crate::protocol::keys::Seed::from_entropy(entropy),
        Err(_) => {
            crate::protocol::keys::Seed::try_from(seed).map_err(|_| IdentityError::BadSeed)?
        }
    };
    let identity = crate::protocol::keys::Identity::from_seed(seed);
    SessionIdText::parse(&identity.session_id().to_string()).map_err(|_| IdentityError::BadSeed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `protocol/messages.md` §1.4: the phrase of seed `0123456789abcdef…` and its Session ID.
    const PHRASE: &str =
        "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
    const SESSION_ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn phrase_round_trip_matches_the_notes() {
        let identity = SessionIdentities.restore(PHRASE).unwrap();
        assert_eq!(identity.session_id.as_str(), SESSION_ID);
        assert_eq!(
            hex::encode(&*identity.seed),
            "0123456789abcdef0123456789abcdef"
        );
        assert_eq!(
            SessionIdentities
                .phrase_for_seed(&identity.seed)
                .unwrap()
                .as_str(),
            PHRASE
        );
    }

    #[test]
    fn a_seed_names_its_session_id() {
        let identity = SessionIdentities.restore(PHRASE).unwrap();
        assert_eq!(
            session_id_of_seed(&identity.seed).unwrap().as_str(),
            SESSION_ID
        );
        assert_eq!(session_id_of_seed(&[1; 5]), Err(IdentityError::BadSeed));
        assert!(session_id_of_seed(&[1; 32]).is_ok());
    }

    #[test]
    fn fresh_identities_export_the_phrase_they_were_made_with() {
        let fresh = SessionIdentities.generate().unwrap();
        let again = SessionIdentities.restore(&fresh.phrase).unwrap();
        assert_eq!(again.session_id, fresh.session_id);
        assert_eq!(fresh.phrase.split(' ').count(), 13);
    }

    #[test]
    fn bad_phrases_and_seeds_are_errors() {
        assert!(matches!(
            SessionIdentities.restore("one two three"),
            Err(IdentityError::InvalidPhrase(_))
        ));
        assert_eq!(
            SessionIdentities.phrase_for_seed(&[1, 2, 3]).unwrap_err(),
            IdentityError::BadSeed
        );
    }
}
