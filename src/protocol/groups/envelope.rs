//! What a group chat message's payload is (groups.md §5 refinement (b), messages.md §6.2): an
//! `Envelope` around a **plaintext, unpadded** `Content`, which [`super::message`] then
//! encrypts for the group. The inverse of the 1:1 layout, where the Envelope is clear and the
//! Content sealed.
//!
//! ```text
//! Envelope {
//!   type (1)         = CLOSED_GROUP_MESSAGE (7)
//!   timestamp (5)    = sent timestamp, ms   (= Content.sigTimestamp, messages.md §3.3)
//!   sourceDevice (7) = 1
//!   content (8)      = Content, serialized, not padded, not encrypted
//!   proSig (11)      = 64 bytes: a decoy unless Session Pro
//! }
//! ```
//! Facts from LSU `src/session_protocol.cpp` @ `015af4a7` (`encode_for_destination_internal`,
//! group branch; `decode_envelope` with group keys: the Envelope is parsed bare, not
//! WebSocket-wrapped, `source` absent/empty/66 hex, `content` required and used as is, no
//! unpadding; `proSig` 64 bytes when present). DESKTOP `ts/session/sending/MessageWrapper.ts`
//! @ `07007a5f` (`encryptForGroupV2`) instead sets `source` = the `03` group ID and no
//! `sourceDevice`/`proSig`; both forms are read here, LSU's is written (DESKTOP's receiver,
//! `swarmPolling.ts` `decryptForGroupV2`, replaces `source` with the group it polled anyway).

use prost::Message as _;

use super::message::{decrypt_group_message, encrypt_group_message, GroupEncKey};
use super::message::{GroupMessage, GroupMessageError};
use crate::protocol::envelope::SOURCE_HEX_LEN;
use crate::protocol::envelope::{EnvelopeError, ProSig, SOURCE_DEVICE};
use crate::protocol::keys::{Ed25519PublicKey, Identity, SessionId};
use crate::protocol::protos::{envelope, wire, Content, Envelope};
use rand::{CryptoRng, RngCore};

/// Why a group chat message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupEnvelopeError {
    /// Decryption or the author's signature failed.
    #[error(transparent)]
    Message(#[from] GroupMessageError),
    /// The payload is not a valid Envelope or Content.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

/// The serialized group Envelope around `content`, whose `sigTimestamp` is set to
/// `timestamp_ms` (messages.md §3.3 "Critical rule").
pub fn encode_group_envelope(mut content: Content, timestamp_ms: u64, pro_sig: &ProSig) -> Vec<u8> {
    content.sig_timestamp = Some(timestamp_ms);
    Envelope {
        r#type: envelope::Type::ClosedGroupMessage as i32,
        timestamp: timestamp_ms,
        source_device: Some(SOURCE_DEVICE),
        content: Some(content.encode_to_vec()),
        pro_sig: Some(pro_sig.as_bytes().to_vec()),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A decoded group chat message: the verified author and the Envelope's parts.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupEnvelope {
    /// Who signed it (`05 ‖ X25519(a)`), authenticated by the group-message signature.
    pub sender: SessionId,
    /// The author's Ed25519 key.
    pub author: Ed25519PublicKey,
    /// `Envelope.timestamp` (ms), equal to `sigTimestamp` when that is set.
    pub timestamp_ms: u64,
    /// `Envelope.source` as 33 bytes when DESKTOP's form set it (the `03` group ID).
    pub source: Option<[u8; 33]>,
    /// `Envelope.proSig`, when present.
    pub pro_sig: Option<ProSig>,
    /// The Content.
    pub content: Content,
}

/// A group payload's Envelope parts (not yet tied to an author).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPayload {
    /// `Envelope.timestamp` (ms).
    pub timestamp_ms: u64,
    /// `Envelope.source` as 33 bytes, when set.
    pub source: Option<[u8; 33]>,
    /// `Envelope.proSig`, when present.
    pub pro_sig: Option<ProSig>,
    /// The Content.
    pub content: Content,
}

/// Parses a decrypted group payload (module docs): a bare Envelope with `type` and
/// `timestamp`, then its Content with every required field and the `sigTimestamp` rule.
pub fn decode_group_envelope(payload: &[u8]) -> Result<GroupPayload, EnvelopeError> {
    let envelope = Envelope::decode(payload).map_err(|_| EnvelopeError::MalformedEnvelope)?;
    wire::check_required(payload, "SessionProtos.Envelope")
        .map_err(|e| required(e, EnvelopeError::MalformedEnvelope))?;
    let source = match envelope.source.as_deref() {
        None | Some("") => None,
        Some(text) if text.len() == SOURCE_HEX_LEN => {
            let mut out = [0u8; 33];
            hex::decode_to_slice(text, &mut out)
                .map_err(|_| EnvelopeError::BadSource(text.len()))?;
            Some(out)
        }
        Some(text) => return Err(EnvelopeError::BadSource(text.len())),
    };
    let pro_sig = ProSig::from_field(envelope.pro_sig)?;
    let raw = envelope.content.ok_or(EnvelopeError::MissingContent)?;
    let content = Content::decode(raw.as_slice()).map_err(|_| EnvelopeError::MalformedContent)?;
    wire::check_required(&raw, "SessionProtos.Content")
        .map_err(|e| required(e, EnvelopeError::MalformedContent))?;
    let signed = content.sig_timestamp.unwrap_or(0);
    if signed != 0 && envelope.timestamp != 0 && signed != envelope.timestamp {
        return Err(EnvelopeError::SigTimestampMismatch {
            envelope: envelope.timestamp,
            signed,
        });
    }
    Ok(GroupPayload {
        timestamp_ms: envelope.timestamp,
        source,
        pro_sig,
        content,
    })
}

fn required(error: wire::WireError, malformed: EnvelopeError) -> EnvelopeError {
    match error {
        wire::WireError::MissingRequired { message, field } => {
            EnvelopeError::MissingRequiredField { message, field }
        }
        wire::WireError::Malformed => malformed,
    }
}

/// Wraps `content` in the group Envelope and encrypts it for the group (LSU `encode_for_group`).
pub fn seal_group_content<R: RngCore + CryptoRng>(
    sender: &Identity,
    group: &Ed25519PublicKey,
    key: &GroupEncKey,
    content: Content,
    timestamp_ms: u64,
    rng: &mut R,
) -> Result<Vec<u8>, GroupMessageError> {
    let pro_sig = ProSig::decoy(rng);
    let payload = encode_group_envelope(content, timestamp_ms, &pro_sig);
    encrypt_group_message(sender, group, key, &payload, rng)
}

/// Decrypts a namespace-11 chat message with `keys` (in the caller's order) and parses it.
pub fn open_group_content(
    ciphertext: &[u8],
    group: &Ed25519PublicKey,
    keys: &[GroupEncKey],
) -> Result<GroupEnvelope, GroupEnvelopeError> {
    let message: GroupMessage = decrypt_group_message(ciphertext, group, keys)?;
    let parts = decode_group_envelope(message.payload())?;
    Ok(GroupEnvelope {
        sender: message.sender(),
        author: *message.author(),
        timestamp_ms: parts.timestamp_ms,
        source: parts.source,
        pro_sig: parts.pro_sig,
        content: parts.content,
    })
}
