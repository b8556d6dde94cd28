//! Reacting to a message: recorded here at once, and queued to the peer as a control message
//! behind the conversation's earlier messages.

use super::{conversation_of, ChatError, Queued};
use crate::clock::now_ms;
use crate::ids::SessionIdText;
use crate::store::chat::ControlBody;
use crate::store::Store;

/// One emoji: 1 to 16 code points, no whitespace or control characters, at least one
/// character outside ASCII (so `a` or `:+1:` is refused, keycaps like `1️⃣` pass).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    /// Checks `text` is one emoji ([`ChatError::InvalidEmoji`] otherwise).
    pub fn parse(text: String) -> Result<Self, ChatError> {
        let count = text.chars().count();
        let ok = (1..=16).contains(&count)
            && text.chars().all(|c| !c.is_whitespace() && !c.is_control())
            && !text.is_ascii();
        if ok {
            Ok(Self(text))
        } else {
            Err(ChatError::InvalidEmoji)
        }
    }

    /// The emoji.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Adds (or, with `remove`, removes) `account`'s reaction `emoji` on the message `id` and
/// queues the reaction for the peer. Not found: the message, or (removing) the reaction; a
/// deleted message is [`ChatError::MessageDeleted`].
pub async fn react(
    store: &Store,
    account: &SessionIdText,
    id: &str,
    emoji: Emoji,
    remove: bool,
) -> Result<Queued, ChatError> {
    let message = super::message_of(store, account, id).await?;
    if message.deleted_at.is_some() {
        return Err(ChatError::MessageDeleted);
    }
    let now = now_ms();
    let peer = message.conversation.clone();
    // In a room the server lists reactors by blinded ID: ours is the one we react as.
    let reactor = match store.room_membership(account.as_str(), &peer).await? {
        Some(member) => member.blinded_id,
        None => account.as_str().to_owned(),
    };
    let mut tx = store.begin().await?;
    let changed = if remove {
        tx.remove_reaction(&message.id, &reactor, emoji.as_str())
            .await?
    } else {
        tx.add_reaction(&message.id, &reactor, emoji.as_str(), now)
            .await?
    };
    if remove && !changed {
        return Err(ChatError::NotFound("reaction"));
    }
    let body = ControlBody::Reaction {
        target_ts: message.timestamp,
        target_author: message.from.clone(),
        emoji: emoji.0,
        remove,
    };
    let id = tx
        .enqueue_control(account.as_str(), &peer, &body, now)
        .await?;
    tx.commit().await?;
    Ok(Queued {
        id,
        conversation: conversation_of(&peer),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_validation() {
        for good in ["👍", "❤️", "1️⃣", "👨‍👩‍👧‍👦", "🇫🇷"] {
            assert!(Emoji::parse(good.to_owned()).is_ok(), "{good}");
        }
        for bad in ["", "a", ":+1:", "👍 ", "\u{0}👍", &"👍".repeat(17)] {
            assert!(Emoji::parse(bad.to_owned()).is_err(), "{bad:?}");
        }
    }
}
