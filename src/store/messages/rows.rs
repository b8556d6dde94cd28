//! Reading `messages` rows back into [`Message`] values.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{Direction, Message, MessageStatus, Quote};
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
