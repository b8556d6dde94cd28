//! Reading `messages` rows back into [`Message`] values.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{Direction, Message, MessageStatus, NewMessage, Quote};
use crate::store::modes::MessageKind;
use crate::store::StoreError;

fn parse_direction(text: &str) -> Result<Direction, StoreError> {
    match text {
        "incoming" => Ok(Direction::Incoming),
        "outgoing" => Ok(Direction::Outgoing),
        other => Err(StoreError::Corrupt(format!("direction {other:?}"))),
    }
}

fn parse_status(text: &str) -> Result<MessageStatus, StoreError> {
    match text {
        "queued" => Ok(MessageStatus::Queued),
        "sent" => Ok(MessageStatus::Sent),
        "failed" => Ok(MessageStatus::Failed),
        "received" => Ok(MessageStatus::Received),
        other => Err(StoreError::Corrupt(format!("message status {other:?}"))),
    }
}

/// The columns [`message_from_row`] reads.
pub(crate) const COLUMNS: &str =
    "id, account, peer, author, direction, status, hash, text, timestamp, \
    failure_reason, kind, quote_timestamp, quote_author, quote_text, quote_id, read_at, \
    deleted_at, expires_at";

/// The message [`StoreTx::insert_message`](crate::store::StoreTx::insert_message) writes for
/// `new`, as [`message_from_row`] would read it back: every column it does not write holds its
/// default (NULL; `kind` `'text'`). Built here instead of read back: one statement less for every
/// message sent or received (issue 16). `tests/store.rs` checks it against the row.
pub(crate) fn inserted_message(new: &NewMessage) -> Message {
    Message {
        id: new.id.clone(),
        hash: new.hash.clone(),
        from: new.author.clone(),
        to: match new.direction {
            Direction::Incoming => new.account.clone(),
            Direction::Outgoing => new.peer.clone(),
        },
        conversation: new.peer.clone(),
        text: new.text.clone(),
        timestamp: new.timestamp,
        direction: new.direction,
        status: new.status,
        failure_reason: None,
        quote: None,
        reactions: Vec::new(),
        read_at: None,
        deleted_at: None,
        expires_at: None,
        kind: MessageKind::Text,
        attachments: Vec::new(),
    }
}

pub(crate) fn message_from_row(row: &AnyRow) -> Result<Message, StoreError> {
    let account: String = row.try_get("account")?;
    let peer: String = row.try_get("peer")?;
    let direction = parse_direction(&row.try_get::<String, _>("direction")?)?;
    // `from` is who wrote it; `to` is the other side of a direct chat: us for what we
    // received, the peer for what we sent.
    let from: String = row.try_get("author")?;
    let to = match direction {
        Direction::Incoming => account,
        Direction::Outgoing => peer.clone(),
    };
    Ok(Message {
        id: row.try_get("id")?,
        hash: row.try_get("hash")?,
        from,
        to,
        conversation: peer,
        text: row.try_get("text")?,
        timestamp: row.try_get("timestamp")?,
        direction,
        status: parse_status(&row.try_get::<String, _>("status")?)?,
        failure_reason: row.try_get("failure_reason")?,
        quote: match (
            row.try_get::<Option<i64>, _>("quote_timestamp")?,
            row.try_get::<Option<String>, _>("quote_author")?,
        ) {
            (Some(timestamp), Some(author)) => Some(Quote {
                timestamp,
                author,
                text: row.try_get("quote_text")?,
                id: row.try_get("quote_id")?,
            }),
            _ => None,
        },
        reactions: Vec::new(),
        read_at: row.try_get("read_at")?,
        deleted_at: row.try_get("deleted_at")?,
        expires_at: row.try_get("expires_at")?,
        kind: MessageKind::from_column("kind", &row.try_get::<String, _>("kind")?)?,
        attachments: Vec::new(),
    })
}
