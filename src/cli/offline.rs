//! Offline tools for people debugging real traffic: no network, JSON on stdout.
//!
//! * `id new` / `id from-phrase`: an account's Session ID, Ed25519 key and recovery phrase.
//! * `message encrypt` / `message decrypt`: exactly the namespace-0 payload a Session client
//!   stores on the recipient's swarm (messages.md §2.1, §3.1), and its inverse.

use anyhow::{bail, Context};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::protocol::dm;
use crate::protocol::envelope::{
    content_to_json, decode_dm_payload, parse_content, OutgoingContent, ProSig,
};
use crate::protocol::keys::{Identity, SessionId};
use crate::protocol::protos::{Content, DataMessage};

/// `id new`: a fresh account made the way Session clients make one.
pub fn id_new() -> anyhow::Result<Value> {
    let identity = Identity::generate(&mut rand::rngs::OsRng);
    identity_json(&identity)
}

/// `id from-phrase`: the account behind a 13-word recovery phrase.
pub fn id_from_phrase(phrase: &str) -> anyhow::Result<Value> {
    let identity = Identity::from_phrase(phrase).context("invalid recovery phrase")?;
    identity_json(&identity)
}

fn identity_json(identity: &Identity) -> anyhow::Result<Value> {
    let Some(phrase) = identity.recovery_phrase() else {
        bail!("this seed has no 13-word recovery phrase");
    };
    Ok(json!({
        "session_id": identity.session_id().to_string(),
        "ed25519_pubkey": hex::encode(identity.ed25519_public().as_bytes()),
        "phrase": phrase.expose_secret(),
    }))
}

/// Parses a recipient Session ID given on the command line.
pub fn parse_recipient(text: &str) -> anyhow::Result<SessionId> {
    text.trim()
        .parse::<SessionId>()
        .with_context(|| "invalid recipient Session ID (expected 05 followed by 64 hex digits)")
}

/// Decodes standard base64 given on the command line.
pub fn decode_base64_arg(text: &str) -> anyhow::Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .context("invalid base64 in --data")
}

/// `message encrypt`: a text message from the account of `phrase` to `to`, as the exact
/// namespace-0 payload a client stores on the recipient's swarm (base64 in `data`).
pub fn message_encrypt(phrase: &str, to: &str, text: &str) -> anyhow::Result<Value> {
    let sender = Identity::from_phrase(phrase).context("invalid recovery phrase")?;
    let recipient = parse_recipient(to)?;
    let timestamp_ms = now_ms()?;
    let content = Content {
        data_message: Some(DataMessage {
            body: Some(text.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut rng = rand::rngs::OsRng;
    let pro_sig = ProSig::decoy(&mut rng);
    let payload = OutgoingContent::new(content, timestamp_ms).seal(&pro_sig, |padded| {
        dm::encrypt_for_recipient(&sender, recipient.x25519(), padded, &mut rng)
    })?;
    Ok(json!({
        "data": base64::engine::general_purpose::STANDARD.encode(payload),
        "timestamp": timestamp_ms,
    }))
}

/// `message decrypt`: opens a namespace-0 payload addressed to the account of `phrase`,
/// verifies the sender's signature and the `sigTimestamp` rule, and shows the Content.
pub fn message_decrypt(phrase: &str, data: &str) -> anyhow::Result<Value> {
    let recipient = Identity::from_phrase(phrase).context("invalid recovery phrase")?;
    let payload = decode_base64_arg(data)?;
    let envelope = decode_dm_payload(&payload).context("not a namespace-0 message payload")?;
    let timestamp_ms = envelope.timestamp_ms();
    let opened = dm::decrypt_incoming(&recipient, envelope.content_ciphertext())
        .context("cannot decrypt: not addressed to this account, or modified")?;
    let content = parse_content(&opened.plaintext, timestamp_ms).context("invalid Content")?;
    Ok(json!({
        "from": opened.sender_session_id.to_string(),
        "timestamp": timestamp_ms,
        "content": content_to_json(&content),
    }))
}

/// The wall clock in ms since the Unix epoch: the sent timestamp of a new message.
fn now_ms() -> anyhow::Result<u64> {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    u64::try_from(elapsed.as_millis()).context("the system clock is out of range")
}
