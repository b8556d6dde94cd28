//! Queueing a text message: its quote and the disappearing setting it goes out under, the
//! message request it answers, and the idempotency key that makes a retried request return
//! the first one's message. The message is persisted `queued`; the sender picks it up after.

use super::requests::accept_for_reply;
use super::{message_peer, ChatError, Queued};
use crate::clock::now_ms;
use crate::ids::{ConversationId, SessionIdText};
use crate::store::attachments::NewAttachment;
use crate::store::chat::TextExtras;
use crate::store::messages::{Direction, Message, MessageStatus, NewMessage, Quote};
use crate::store::modes::ConversationState;
use crate::store::Store;

/// Longest message text, in characters (Session clients' limit).
pub const MAX_TEXT_CHARS: usize = 2000;

/// Checks a text: 1 to [`MAX_TEXT_CHARS`] characters, or empty when files are attached.
pub fn check_text(text: &str, has_files: bool) -> Result<(), ChatError> {
    let chars = text.chars().count();
    if (chars == 0 && !has_files) || chars > MAX_TEXT_CHARS {
        return Err(ChatError::InvalidText);
    }
    Ok(())
}

/// A text message to queue.
#[derive(Clone, Debug, Default)]
pub struct NewText {
    /// The id the message gets if it is new (`new_message_id`): chosen by the caller, so what
    /// it ties to the id (the API's trace context) is in place before the send can start.
    pub id: String,
    /// The text (checked by [`check_text`]).
    pub text: String,
    /// The id of the message of the same conversation it replies to.
    pub quote: Option<String>,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: Option<String>,
}

/// What [`send_text`] did.
#[derive(Clone, Debug)]
pub struct SentText {
    /// The queued message (for an idempotent repeat, the first request's, as it is now).
    pub message: Message,
    /// False for an idempotent repeat: nothing new was queued.
    pub created: bool,
    /// The MessageRequestResponse queued because this reply accepted a request.
    pub accepted_request: Option<Queued>,
}

/// Queues `text` with its `files` in `conversation`. A quote must name a message of the
/// conversation; replying to a held or declined request accepts it; an idempotency key used
/// before returns that message, or [`ChatError::IdempotencyConflict`] if it differs.
pub async fn send_text(
    store: &Store,
    account: &SessionIdText,
    conversation: &ConversationId,
    text: NewText,
    files: &[NewAttachment],
) -> Result<SentText, ChatError> {
    let to = message_peer(store, account, conversation).await?;
    let quote = match &text.quote {
        Some(id) => Some(quote_of(store, account, &to, id).await?),
        None => None,
    };
    let mut chat = store.conversation_chat(account.as_str(), &to).await?;
    let mut accepted_request = None;
    if chat
        .as_ref()
        .is_some_and(|c| c.state != ConversationState::Accepted)
    {
        // Replying to a held or declined request accepts it, as in Session clients.
        accepted_request = accept_for_reply(store, account, conversation).await?;
        chat = store.conversation_chat(account.as_str(), &to).await?;
    }
    let (expire_mode, expire_seconds) = chat
        .map(|c| (c.disappearing_mode, c.disappearing_seconds))
        .unwrap_or_default();
    let extras = TextExtras {
        quote,
        expire_mode,
        expire_seconds,
    };
    let now = now_ms();
    // In a room our posts are signed by our blinded ID there, and others see that author.
    let author = match conversation {
        ConversationId::Community(_) => store
            .room_membership(account.as_str(), &to)
            .await?
            .map_or_else(|| account.as_str().to_owned(), |m| m.blinded_id),
        _ => account.as_str().to_owned(),
    };
    let message = NewMessage {
        id: text.id.clone(),
        account: account.as_str().to_owned(),
        peer: to.clone(),
        author,
        direction: Direction::Outgoing,
        status: MessageStatus::Queued,
        hash: None,
        text: text.text,
        timestamp: now,
        idempotency_key: text.idempotency_key,
    };
    let enqueued = store
        .enqueue_outgoing_with(&message, Some(&extras), files, now)
        .await?;
    let stored = enqueued.message;
    if !enqueued.created && (stored.to != message.peer || stored.text != message.text) {
        return Err(ChatError::IdempotencyConflict);
    }
    Ok(SentText {
        message: stored,
        created: enqueued.created,
        accepted_request,
    })
}

/// The quote of the message `id`, which must belong to the conversation with `to`.
async fn quote_of(
    store: &Store,
    account: &SessionIdText,
    to: &str,
    id: &str,
) -> Result<Quote, ChatError> {
    let quoted = super::message_of(store, account, id).await?;
    if quoted.conversation != to {
        return Err(ChatError::QuoteNotInConversation);
    }
    Ok(Quote {
        timestamp: quoted.timestamp,
        author: quoted.from,
        text: Some(quoted.text).filter(|t| !t.is_empty()),
        id: Some(quoted.id),
    })
}
