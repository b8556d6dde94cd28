//! A conversation's own state: its disappearing-message setting (changed here and told to the
//! peer) and what a client sees of it (request state, setting, the peer's profile, the newest
//! message).

use super::{append, direct_peer, ChatError, Queued};
use crate::clock::now_ms;
use crate::events::EventData;
use crate::ids::{ConversationId, SessionIdText};
use crate::store::chat::{ControlBody, ConversationChat};
use crate::store::messages::Message;
use crate::store::modes::ExpireMode;
use crate::store::Store;

/// Longest disappearing timer, seconds: 14 days, the longest storage TTL (messages.md §3.5).
pub const MAX_DISAPPEARING_SECONDS: i64 = 14 * 24 * 3600;

/// A valid disappearing-message setting: `Off` (timer 0), or a mode with a timer of 1 to
/// [`MAX_DISAPPEARING_SECONDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disappearing {
    /// The mode.
    pub mode: ExpireMode,
    /// The timer, seconds (0 when off).
    pub seconds: i64,
}

impl Disappearing {
    /// Checks a setting as a client wrote it; the timer of `off` is ignored (stored as 0).
    pub fn parse(mode: &str, seconds: i64) -> Result<Self, ChatError> {
        match ExpireMode::parse(mode) {
            Some(ExpireMode::Off) => Ok(Self {
                mode: ExpireMode::Off,
                seconds: 0,
            }),
            Some(mode) if (1..=MAX_DISAPPEARING_SECONDS).contains(&seconds) => {
                Ok(Self { mode, seconds })
            }
            Some(_) => Err(ChatError::DisappearingSeconds),
            None => Err(ChatError::DisappearingMode),
        }
    }
}

/// A conversation as a client sees it.
#[derive(Clone, Debug)]
pub struct ConversationSnapshot {
    /// Its chat state (request state, setting, the peer's profile).
    pub chat: ConversationChat,
    /// The newest message, if any.
    pub last_message: Option<Message>,
}

/// Changes the disappearing setting of `conversation`, emits `conversation.updated` and
/// queues the expiration timer update for the peer (later messages go out under it).
pub async fn set_disappearing(
    store: &Store,
    account: &SessionIdText,
    conversation: &ConversationId,
    setting: Disappearing,
) -> Result<Queued, ChatError> {
    let peer = direct_peer(conversation)?;
    let Disappearing { mode, seconds } = setting;
    let now = now_ms();
    let mut tx = store.begin().await?;
    tx.set_disappearing(account.as_str(), peer.as_str(), mode, seconds, now)
        .await?;
    let data = EventData::disappearing_updated(peer.as_str(), mode.as_str(), seconds);
    let body = ControlBody::ExpirationUpdate { mode, seconds };
    let id = tx
        .enqueue_control(account.as_str(), peer.as_str(), &body, now)
        .await?;
    append(&mut tx, account, peer.as_str(), data, now).await?;
    tx.commit().await?;
    Ok(Queued {
        id,
        conversation: Some(conversation.clone()),
    })
}

/// `conversation` as a client sees it; none yet is [`ChatError::NotFound`].
pub async fn conversation(
    store: &Store,
    account: &SessionIdText,
    conversation: &ConversationId,
) -> Result<ConversationSnapshot, ChatError> {
    let peer = direct_peer(conversation)?;
    let chat = store
        .conversation_chat(account.as_str(), peer.as_str())
        .await?
        .ok_or(ChatError::NotFound("conversation"))?;
    let last_message = match &chat.last_message_id {
        Some(id) => store.get_message(account.as_str(), id).await?,
        None => None,
    };
    Ok(ConversationSnapshot { chat, last_message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disappearing_validation() {
        let off = Disappearing::parse("off", 99).ok();
        assert_eq!(off.map(|d| (d.mode, d.seconds)), Some((ExpireMode::Off, 0)));
        assert!(Disappearing::parse("after_send", 30).is_ok());
        assert!(Disappearing::parse("after_read", 0).is_err());
        assert!(Disappearing::parse("after_send", MAX_DISAPPEARING_SECONDS + 1).is_err());
        assert!(Disappearing::parse("sometimes", 30).is_err());
    }
}
