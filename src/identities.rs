//! What the account service needs from the protocol layer: fresh identities, identities from a
//! recovery phrase, and a seed's phrase for export.
//!
//! The gateway depends on this trait rather than on `protocol::keys` directly so the API and
//! store can be built and tested on their own; [`SessionIdentities`] is the real implementation.

use zeroize::Zeroizing;

use crate::ids::SessionIdText;

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
    fn from_phrase(&self, phrase: &str) -> Result<NewIdentity, IdentityError>;
    /// The recovery phrase of a stored seed.
    fn phrase_for_seed(&self, seed: &[u8]) -> Result<Zeroizing<String>, IdentityError>;
}
