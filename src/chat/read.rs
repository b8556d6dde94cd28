//! Read state and typing: marking the peer's messages read (one read receipt for those not
//! acknowledged before) and telling the peer we are typing.

use super::{direct_peer, ChatError, Queued};
use crate::clock::now_ms;
use crate::ids::{ConversationId, SessionIdText};
use crate::store::chat::ControlBody;
use crate::store::Store;

/// What [`mark_read`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkedRead {
    /// Messages newly acknowledged with a read receipt.
    pub receipted: usize,
    /// The queued receipt, when there was something new to acknowledge.
    pub receipt: Option<Queued>,
}

/// Marks the peer's messages in `conversation` read up to the message `up_to` (`None`: all)
/// and queues one read receipt for those not acknowledged before. `up_to` must name a message
/// of this conversation ([`ChatError::MessageNotInConversation`]).
pub async fn mark_read(
    store: &Store,
    account: &SessionIdText,
    conversation: &ConversationId,
    up_to: Option<&str>,
) -> Result<MarkedRead, ChatError> {
    let peer = direct_peer(conversation)?;
    let up_to = match up_to {
        Some(id) => {
            let m = super::message_of(store, account, id).await?;
            if m.conversation != peer.as_str() {
                return Err(ChatError::MessageNotInConversation);
            }
            m.timestamp
        }
        None => i64::MAX,
    };
    let now = now_ms();
    let mut tx = store.begin().await?;
    let receipt = tx
        .read_with_receipt(account.as_str(), peer.as_str(), up_to, now)
        .await?;
    tx.commit().await?;
    Ok(match receipt {
        Some((id, receipted)) => MarkedRead {
            receipted,
            receipt: Some(Queued {
                id,
                conversation: Some(conversation.clone()),
            }),
        },
        None => MarkedRead {
            receipted: 0,
            receipt: None,
        },
    })
}

/// Queues a typing indicator (started or stopped) for the peer; a newer one replaces a still
/// queued older one.
pub async fn typing(
    store: &Store,
    account: &SessionIdText,
    conversation: &ConversationId,
    typing: bool,
) -> Result<Queued, ChatError> {
    let peer = direct_peer(conversation)?;
    let body = ControlBody::Typing { typing };
    let id = store
        .enqueue_control(account.as_str(), peer.as_str(), &body, now_ms())
        .await?;
    Ok(Queued {
        id,
        conversation: Some(conversation.clone()),
    })
}
