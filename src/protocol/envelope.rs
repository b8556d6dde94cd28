//! The namespace-0 (1:1 DM) payload: building it and taking it apart (messages.md §3.1–§3.4).
//!
//! Wire layout of what is stored on the recipient's swarm (§3.1; field numbers from §3.2/§3.3):
//!
//! ```text
//! WebSocketMessage {
//!   type (1)    = REQUEST (1)
//!   request (2) = WebSocketRequestMessage {
//!     verb (1) = ""   path (2) = ""   body (3) = Envelope   id (4) = 0
//!   }
//! }
//! Envelope {
//!   type (1)         = SESSION_MESSAGE (6)
//!   timestamp (5)    = sent timestamp, ms
//!   sourceDevice (7) = 1
//!   content (8)      = encrypt_for_recipient(pad(Content))     // §2.1, §3.4
//!   proSig (11)      = 64 bytes: a Pro signature or a decoy
//! }
//! ```
//!
//! The steps are separate types: an [`OutgoingContent`] (Content with `sigTimestamp` set, padded)
//! is sealed by the caller's 1:1 encryption (`protocol::dm::encrypt_for_recipient`) and wrapped by
//! [`encode_dm_payload`]; on receipt [`decode_dm_payload`] yields a [`ParsedEnvelope`] whose
//! ciphertext the caller opens, and [`parse_content`] turns the padded plaintext into a
//! [`Content`] after the `sigTimestamp` rule.

use curve25519_dalek::{EdwardsPoint, Scalar};
use prost::Message as _;
use rand::{CryptoRng, RngCore};

use super::padding::{pad, unpad};
use super::protos::{envelope, web_socket_message, wire, Content, Envelope};
use super::protos::{WebSocketMessage, WebSocketRequestMessage};

/// `Envelope.sourceDevice` as LSU-new sets it (§3.1).
pub const SOURCE_DEVICE: u32 = 1;

/// Length of `Envelope.proSig` (§3.1).
pub const PRO_SIG_LEN: usize = 64;

/// Length of `Envelope.source` when set: a Session ID in hex (`05` + 32 bytes). LSU-new
/// `decode_envelope` compares it with its 33-byte `source` array times two.
pub const SOURCE_HEX_LEN: usize = 66;

/// Why a namespace-0 payload or its Content was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The swarm data is not a `WebSocketMessage`.
    #[error("payload is not a WebSocketMessage")]
    MalformedWebSocketMessage,
    /// The `WebSocketMessage` carries no `request` (field 2).
    #[error("WebSocketMessage has no request")]
    MissingRequest,
    /// The request carries no `body` (field 3).
    #[error("WebSocket request has no body")]
    MissingBody,
    /// The body is not an `Envelope`.
    #[error("request body is not an Envelope")]
    MalformedEnvelope,
    /// A proto2 `required` field is absent: `Envelope.type` (1) or `.timestamp` (5), or one
    /// inside the Content (e.g. `Quote.author`); LSU and DESKTOP refuse such messages.
    #[error("{message} lacks required field {field}")]
    MissingRequiredField {
        /// Full proto name of the message lacking it.
        message: &'static str,
        /// The field number.
        field: u32,
    },
    /// `Envelope.source` is neither empty nor a 66-hex-char Session ID.
    #[error("Envelope source has unexpected length {0}")]
    BadSource(usize),
    /// `Envelope.content` is absent.
    #[error("Envelope has no content")]
    MissingContent,
    /// `Envelope.proSig` is present but not 64 bytes.
    #[error("Envelope proSig is {0} bytes, expected 64")]
    BadProSigLength(usize),
    /// The unpadded plaintext is not a `Content`.
    #[error("plaintext is not a Content message")]
    MalformedContent,
    /// `Content.sigTimestamp` and the envelope timestamp are both set and differ.
    #[error("sigTimestamp {signed} differs from envelope timestamp {envelope}")]
    SigTimestampMismatch {
        /// The (unauthenticated) envelope timestamp, ms.
        envelope: u64,
        /// The signed `Content.sigTimestamp`, ms.
        signed: u64,
    },
}

/// The 64-byte `Envelope.proSig` value: a Session Pro signature or a decoy.
#[derive(Clone, PartialEq, Eq)]
pub struct ProSig([u8; PRO_SIG_LEN]);

impl ProSig {
    /// LSU-new's decoy (§3.1): a validly encoded Ed25519 signature `R ‖ s` with `R = r·B` for a
    /// random scalar `r` and `s` another random scalar, so Pro and non-Pro envelopes look alike.
    /// It verifies against nothing and is never checked.
    pub fn decoy<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let r = Scalar::random(rng);
        let s = Scalar::random(rng);
        let mut bytes = [0u8; PRO_SIG_LEN];
        bytes[..32].copy_from_slice(EdwardsPoint::mul_base(&r).compress().as_bytes());
        bytes[32..].copy_from_slice(s.as_bytes());
        Self(bytes)
    }

    /// Wraps 64 bytes (a real Pro signature, or one read off the wire).
    pub fn from_bytes(bytes: [u8; PRO_SIG_LEN]) -> Self {
        Self(bytes)
    }

    /// The `Envelope.proSig` field as received: absent, or exactly [`PRO_SIG_LEN`] bytes
    /// ([`EnvelopeError::BadProSigLength`] otherwise).
    pub fn from_field(field: Option<Vec<u8>>) -> Result<Option<Self>, EnvelopeError> {
        field
            .map(|sig| {
                let len = sig.len();
                <[u8; PRO_SIG_LEN]>::try_from(sig)
                    .map(Self)
                    .map_err(|_| EnvelopeError::BadProSigLength(len))
            })
            .transpose()
    }

    /// The 64 bytes.
    pub fn as_bytes(&self) -> &[u8; PRO_SIG_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for ProSig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProSig({})", hex::encode(&self.0[..4]))
    }
}

/// A `Content` ready for 1:1 encryption: `sigTimestamp` set to the sent timestamp, serialized
/// and padded (§3.3 "Critical rule", §3.4).
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingContent {
    padded: Vec<u8>,
    timestamp_ms: u64,
}

impl OutgoingContent {
    /// Sets `content.sigTimestamp = timestamp_ms` (whatever the caller left there), serializes
    /// and pads it.
    pub fn new(mut content: Content, timestamp_ms: u64) -> Self {
        content.sig_timestamp = Some(timestamp_ms);
        Self {
            padded: pad(&content.encode_to_vec()),
            timestamp_ms,
        }
    }

    /// The padded Content: the message `M` that 1:1 encryption signs and seals (§2.1).
    pub fn padded(&self) -> &[u8] {
        &self.padded
    }

    /// The sent timestamp, ms; it becomes `Envelope.timestamp`.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// Seals the padded Content with `encrypt` and wraps the ciphertext with
    /// [`encode_dm_payload`]. With the 1:1 encryption of `protocol::dm`:
    ///
    /// ```ignore
    /// let payload = OutgoingContent::new(content, now_ms).seal(&ProSig::decoy(&mut rng), |m| {
    ///     dm::encrypt_for_recipient(&sender, &recipient, m, &mut rng)
    /// })?;
    /// ```
    pub fn seal<E>(
        self,
        pro_sig: &ProSig,
        encrypt: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, E> {
        let sealed = encrypt(&self.padded)?;
        Ok(encode_dm_payload(&sealed, self.timestamp_ms, pro_sig))
    }
}

impl std::fmt::Debug for OutgoingContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingContent")
            .field("padded_len", &self.padded.len())
            .field("timestamp_ms", &self.timestamp_ms)
            .finish()
    }
}

/// Wraps an already sealed Content into the exact namespace-0 payload of §3.1.
pub fn encode_dm_payload(sealed: &[u8], timestamp_ms: u64, pro_sig: &ProSig) -> Vec<u8> {
    let envelope = Envelope {
        r#type: envelope::Type::SessionMessage as i32,
        source: None,
        timestamp: timestamp_ms,
        source_device: Some(SOURCE_DEVICE),
        content: Some(sealed.to_vec()),
        server_timestamp: None,
        pro_sig: Some(pro_sig.as_bytes().to_vec()),
    };
    WebSocketMessage {
        r#type: Some(web_socket_message::Type::Request as i32),
        request: Some(WebSocketRequestMessage {
            verb: Some(String::new()),
            path: Some(String::new()),
            body: Some(envelope.encode_to_vec()),
            id: Some(0),
            headers: Vec::new(),
        }),
    }
    .encode_to_vec()
}

/// The parts of a received namespace-0 envelope a receiver uses (§3.1, LSU-new
/// `decode_envelope`). Built only by [`decode_dm_payload`].
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedEnvelope {
    timestamp_ms: u64,
    source: Option<[u8; 33]>,
    source_device: Option<u32>,
    server_timestamp: Option<u64>,
    pro_sig: Option<ProSig>,
    content_ciphertext: Vec<u8>,
}

impl ParsedEnvelope {
    /// `Envelope.timestamp`, ms. Unauthenticated until checked against `sigTimestamp`.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// `Envelope.source` as 33 bytes, when a non-empty one was sent.
    pub fn source(&self) -> Option<&[u8; 33]> {
        self.source.as_ref()
    }

    /// `Envelope.sourceDevice`, when present.
    pub fn source_device(&self) -> Option<u32> {
        self.source_device
    }

    /// `Envelope.serverTimestamp`, when present.
    pub fn server_timestamp(&self) -> Option<u64> {
        self.server_timestamp
    }

    /// `Envelope.proSig`, when present (old clients omit it).
    pub fn pro_sig(&self) -> Option<&ProSig> {
        self.pro_sig.as_ref()
    }

    /// `Envelope.content`: the sealed, padded Content (§2.1).
    pub fn content_ciphertext(&self) -> &[u8] {
        &self.content_ciphertext
    }

    /// Takes the ciphertext out.
    pub fn into_content_ciphertext(self) -> Vec<u8> {
        self.content_ciphertext
    }
}

impl std::fmt::Debug for ParsedEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedEnvelope")
            .field("timestamp_ms", &self.timestamp_ms)
            .field("has_source", &self.source.is_some())
            .field("source_device", &self.source_device)
            .field("server_timestamp", &self.server_timestamp)
            .field("pro_sig", &self.pro_sig)
            .field("content_len", &self.content_ciphertext.len())
            .finish()
    }
}

impl TryFrom<&[u8]> for ParsedEnvelope {
    type Error = EnvelopeError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        decode_dm_payload(bytes)
    }
}

/// Parses namespace-0 swarm data as every client does (§3.1, LSU-new `decode_envelope`):
/// a `WebSocketMessage` with `request.body` (its `type` and the Envelope `type` are not looked
/// at); an `Envelope` with its required `type` and `timestamp`; `source` absent, empty or a
/// 66-hex-char Session ID; `content` required; `proSig` absent or exactly 64 bytes.
///
/// A bare `Envelope` is refused: LSU-new only unwraps WebSocket-wrapped 1:1 payloads.
pub fn decode_dm_payload(bytes: &[u8]) -> Result<ParsedEnvelope, EnvelopeError> {
    let message =
        WebSocketMessage::decode(bytes).map_err(|_| EnvelopeError::MalformedWebSocketMessage)?;
    let request = message.request.ok_or(EnvelopeError::MissingRequest)?;
    let body = request.body.ok_or(EnvelopeError::MissingBody)?;
    let envelope =
        Envelope::decode(body.as_slice()).map_err(|_| EnvelopeError::MalformedEnvelope)?;
    wire::check_required(&body, "SessionProtos.Envelope")
        .map_err(|e| required_error(e, EnvelopeError::MalformedEnvelope))?;
    let source = match envelope.source.as_deref() {
        None | Some("") => None,
        Some(text) => Some(parse_source(text)?),
    };
    let pro_sig = ProSig::from_field(envelope.pro_sig)?;
    Ok(ParsedEnvelope {
        timestamp_ms: envelope.timestamp,
        source,
        source_device: envelope.source_device,
        server_timestamp: envelope.server_timestamp,
        pro_sig,
        content_ciphertext: envelope.content.ok_or(EnvelopeError::MissingContent)?,
    })
}

fn required_error(error: wire::WireError, malformed: EnvelopeError) -> EnvelopeError {
    match error {
        wire::WireError::MissingRequired { message, field } => {
            EnvelopeError::MissingRequiredField { message, field }
        }
        wire::WireError::Malformed => malformed,
    }
}

fn parse_source(text: &str) -> Result<[u8; 33], EnvelopeError> {
    if text.len() != SOURCE_HEX_LEN {
        return Err(EnvelopeError::BadSource(text.len()));
    }
    let mut out = [0u8; 33];
    hex::decode_to_slice(text, &mut out).map_err(|_| EnvelopeError::BadSource(text.len()))?;
    Ok(out)
}

/// Unpads (§3.4) and decodes a decrypted Content, refusing it when a proto2 `required` field is
/// missing at any depth (as LSU and DESKTOP do), then applies the `sigTimestamp` rule (§3.3):
/// when both `envelope_timestamp_ms` and `sigTimestamp` are non-zero they must be equal; a zero
/// or absent `sigTimestamp` is a legacy sender and accepted.
pub fn parse_content(
    padded_plaintext: &[u8],
    envelope_timestamp_ms: u64,
) -> Result<Content, EnvelopeError> {
    let plaintext = unpad(padded_plaintext);
    let content = Content::decode(plaintext).map_err(|_| EnvelopeError::MalformedContent)?;
    wire::check_required(plaintext, "SessionProtos.Content")
        .map_err(|e| required_error(e, EnvelopeError::MalformedContent))?;
    let signed = content.sig_timestamp.unwrap_or(0);
    if signed != 0 && envelope_timestamp_ms != 0 && signed != envelope_timestamp_ms {
        return Err(EnvelopeError::SigTimestampMismatch {
            envelope: envelope_timestamp_ms,
            signed,
        });
    }
    Ok(content)
}

/// A JSON view of a decoded Content for the CLI (`message decrypt`): the proto field names in
/// snake_case, absent fields left out, `bytes` as standard base64, enums by their proto names.
pub fn content_to_json(content: &Content) -> serde_json::Value {
    serde_json::to_value(content).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests;
