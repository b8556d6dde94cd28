//! The attachment pointers of an incoming message, recorded `queued` in its transaction (the
//! actors' fetcher downloads them after the commit).

use zeroize::Zeroizing;

use crate::protocol::chat::pointer::AttachmentInfo;
use crate::protocol::chat::IncomingMessage;
use crate::protocol::protos::DataMessage;
use crate::store::attachments::IncomingPointer;
use crate::store::messages::{Direction, Message};
use crate::store::{StoreError, StoreTx};

/// MIME type recorded for a pointer without one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The attachment pointers of an incoming `DataMessage`. (The sender's profile is the chat
/// side's: [`crate::protocol::chat::ChatEvent::ProfileUpdated`] stores it on the conversation.)
#[derive(Debug, Default, Clone)]
pub struct IncomingParts {
    /// Pointers that parse (a pointer without URL or with a bad key is skipped).
    pub pointers: Vec<IncomingPointer>,
}

impl IncomingParts {
    /// Reads the pointers of a received `DataMessage`.
    pub fn of(data: &DataMessage) -> Self {
        let pointers = data
            .attachments
            .iter()
            .filter_map(|p| AttachmentInfo::parse(p).ok())
            .map(|info| incoming_pointer(&info))
            .collect();
        Self { pointers }
    }

    /// The same for a message [`crate::protocol::chat::classify`] already read.
    pub fn of_message(m: &IncomingMessage) -> Self {
        Self {
            pointers: m.attachments.iter().map(incoming_pointer).collect(),
        }
    }

    /// Records the pointers (queued) in the message's transaction, and
    /// puts the attachment views into the message (for its event).
    pub async fn record(
        &self,
        tx: &mut StoreTx,
        message: &mut Message,
        now: i64,
    ) -> Result<(), StoreError> {
        let account = match message.direction {
            Direction::Incoming => message.to.clone(),
            Direction::Outgoing => message.from.clone(),
        };
        message.attachments = tx
            .insert_incoming_attachments(&account, &message.id, &self.pointers, now)
            .await?;
        Ok(())
    }
}

/// What the store records of a received pointer.
fn incoming_pointer(info: &AttachmentInfo) -> IncomingPointer {
    IncomingPointer {
        content_type: info
            .meta
            .content_type
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        file_name: info.meta.file_name.clone().filter(|n| !n.is_empty()),
        size: info.size.map_or(0, i64::from),
        url: info.url.clone(),
        key: Zeroizing::new(info.key.expose_secret().to_vec()),
        digest: info.digest.map(|d| d.to_vec()),
    }
}
