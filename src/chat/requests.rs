//! Message requests: accepting one releases its held messages (their `message.received` now)
//! and tells the peer (MessageRequestResponse); declining drops them, and the peer's later
//! messages, until the conversation is accepted. Replying to a request accepts it, as in
//! Session clients ([`super::send_text`]).

use super::{append, direct_peer, ChatError, Queued};
use crate::clock::now_ms;
use crate::events::{EventData, MessageEvent};
use crate::ids::{ConversationId, SessionIdText};
use crate::store::chat::ControlBody;
use crate::store::modes::ConversationState;
use crate::store::{Store, StoreTx};

/// What accepting found.
enum Acceptance {
    /// No conversation with the peer.
    NoConversation,
    /// It was accepted already: nothing changed.
    AlreadyAccepted,
    /// A pending or declined request, now accepted; the queued response's id.
    Accepted(String),
}

/// Accepts the request in `conversation` if it is pending or declined. Returns the queued
/// MessageRequestResponse, or `None` when it was accepted already; no conversation is
/// [`ChatError::NotFound`].
pub async fn accept(
    store: &Store,
    account: &SessionIdText,
    conversation: &ConversationId,
) -> Result<Option<Queued>, ChatError> {
    match accept_request(store, account, conversation).await? {
        Acceptance::NoConversation => Err(ChatError::NotFound("conversation")),
        Acceptance::AlreadyAccepted => Ok(None),
        Acceptance::Accepted(id) => Ok(Some(Queued {
            id,
            conversation: Some(conversation.clone()),
        })),
    }
}

/// [`accept`] for a reply to the peer: nothing to accept is no error.
pub(super) async fn accept_for_reply(
    store: &Store,
    account: &SessionIdText,
    conversation: &ConversationId,
) -> Result<Option<Queued>, ChatError> {
    Ok(match accept_request(store, account, conversation).await? {
        Acceptance::Accepted(id) => Some(Queued {
            id,
            conversation: Some(conversation.clone()),
        }),
        Acceptance::NoConversation | Acceptance::AlreadyAccepted => None,
    })
}

/// Accepts in its own transaction, committed only when something changed.
async fn accept_request(
    store: &Store,
    account: &SessionIdText,
    conversation: &ConversationId,
) -> Result<Acceptance, ChatError> {
    let peer = direct_peer(conversation)?;
    let now = now_ms();
    let mut tx = store.begin().await?;
    let acceptance = accept_in(&mut tx, account, peer, now).await?;
    if matches!(acceptance, Acceptance::Accepted(_)) {
        tx.commit().await?;
    }
    Ok(acceptance)
}

/// The state change, the released messages' events, the response and `conversation.updated`.
async fn accept_in(
    tx: &mut StoreTx,
    account: &SessionIdText,
    peer: &SessionIdText,
    now: i64,
) -> Result<Acceptance, ChatError> {
    let Some(chat) = tx
        .conversation_chat(account.as_str(), peer.as_str())
        .await?
    else {
        return Ok(Acceptance::NoConversation);
    };
    if chat.state == ConversationState::Accepted {
        return Ok(Acceptance::AlreadyAccepted);
    }
    tx.set_conversation_state(
        account.as_str(),
        peer.as_str(),
        ConversationState::Accepted,
        now,
    )
    .await?;
    let released = tx.release_held(account.as_str(), peer.as_str()).await?;
    for mut m in released.iter().cloned() {
        // As on the live path: the event carries the message's attachments.
        m.attachments = tx.attachment_views(account.as_str(), &m.id).await?;
        let data = EventData::message(MessageEvent::Received, &m)?;
        append(tx, account, peer.as_str(), data, now).await?;
    }
    let response = ControlBody::RequestResponse;
    let id = tx
        .enqueue_control(account.as_str(), peer.as_str(), &response, now)
        .await?;
    // Delivered now, so read now under `read_receipts: auto` (queued behind the response).
    if let Some(newest) = released.last() {
        tx.auto_read(account.as_str(), peer.as_str(), newest.timestamp, now)
            .await?;
    }
    let data = EventData::state_updated(peer.as_str(), ConversationState::Accepted.as_str());
    append(tx, account, peer.as_str(), data, now).await?;
    Ok(Acceptance::Accepted(id))
}

/// Declines the request in `conversation` (also an accepted one): drops its held messages
/// and emits `conversation.updated`. No conversation is [`ChatError::NotFound`].
pub async fn decline(
    store: &Store,
    account: &SessionIdText,
    conversation: &ConversationId,
) -> Result<(), ChatError> {
    let peer = direct_peer(conversation)?;
    let now = now_ms();
    let mut tx = store.begin().await?;
    tx.conversation_chat(account.as_str(), peer.as_str())
        .await?
        .ok_or(ChatError::NotFound("conversation"))?;
    tx.set_conversation_state(
        account.as_str(),
        peer.as_str(),
        ConversationState::Declined,
        now,
    )
    .await?;
    tx.drop_held(account.as_str(), peer.as_str()).await?;
    let data = EventData::state_updated(peer.as_str(), ConversationState::Declined.as_str());
    append(&mut tx, account, peer.as_str(), data, now).await?;
    tx.commit().await?;
    Ok(())
}
