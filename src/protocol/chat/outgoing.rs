//! Outgoing Content, one builder per feature (messages.md §3.3 tables, §3.5 TTLs, §4, §8),
//! shaped after DESKTOP's `ts/session/messages/outgoing/…` classes.
//!
//! | Feature | Content fields set | TTL | visible | own-swarm copy |
//! |---|---|---|---|---|
//! | text ([`TextMessage`]) | `dataMessage{body 1, attachments 2, profileKey 6, quote 8{id 1, author 2}, profile 101}`, 12, 13 | setting | yes | yes, `syncTarget` 105 |
//! | [`reaction`] | `dataMessage{profileKey 6, reaction 11{id 1, author 2, emoji 3, action 4}, profile 101}` | 14 d | yes | yes, `syncTarget` |
//! | [`unsend`] | `unsendRequest 9{timestamp 1, author 2}` | 14 d | no | yes, same Content |
//! | [`read_receipt`] | `receiptMessage 5{type 1 = READ, timestamp 2…}` | 14 d | no | no |
//! | [`typing`] | `typingMessage 6{timestamp 1, action 2}` | 20 s | no | no |
//! | [`message_request_response`] | `messageRequestResponse 10{isApproved 1, profileKey 2, profile 3}` | 14 d | no | no |
//! | [`expiration_timer_update`] | `dataMessage{flags 4 = 2}`, 12, 13 | setting | no | yes, `syncTarget` |
//! | [`data_extraction`] | `dataExtractionNotification 8{type 1, timestamp 2}`, 12, 13 | setting | no | no |
//! | [`community_invitation`] | `dataMessage{openGroupInvitation 102{url 1, name 3}, profile…}`, 12, 13 | setting | yes | yes |
//!
//! `sigTimestamp` (15) is set by [`Outgoing::into_content`] (via `OutgoingContent::new`).

use super::expiration::Disappearing;
use super::pointer::AttachmentInfo;
use super::profile::Profile;
use super::{ChatError, TTL_CONTENT_MS, TTL_TYPING_MS};
use crate::protocol::envelope::OutgoingContent;
use crate::protocol::keys::SessionId;
use crate::protocol::protos::{
    data_extraction_notification, data_message, receipt_message, typing_message, Content,
    DataExtractionNotification, DataMessage, MessageRequestResponse, ReceiptMessage, TypingMessage,
    UnsendRequest,
};

/// A message in a conversation, named as Session names it: its sent timestamp and its author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageRef {
    /// The message's sent timestamp (its `Envelope.timestamp`), ms.
    pub timestamp_ms: u64,
    /// Who sent it.
    pub author: SessionId,
}

/// `DataMessage.Reaction.action` (§3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReactionAction {
    /// `REACT = 0`.
    Add,
    /// `REMOVE = 1`.
    Remove,
}

/// A built Content and what the sender needs to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    content: Content,
    sent_ms: u64,
    ttl_ms: u64,
    visible: bool,
    own_copy: bool,
}

impl Outgoing {
    fn new(content: Content, sent_ms: u64, ttl_ms: u64) -> Self {
        Self {
            content,
            sent_ms,
            ttl_ms,
            visible: false,
            own_copy: false,
        }
    }

    fn visible(mut self) -> Self {
        self.visible = true;
        self
    }

    fn with_own_copy(mut self) -> Self {
        self.own_copy = true;
        self
    }

    /// The Content (without `sigTimestamp`; [`Outgoing::into_content`] adds it).
    pub fn content(&self) -> &Content {
        &self.content
    }

    /// The sent timestamp, ms: `Envelope.timestamp`, `sigTimestamp`, and the message's id.
    pub fn sent_ms(&self) -> u64 {
        self.sent_ms
    }

    /// The storage TTL to send with, ms (§3.5).
    pub fn ttl_ms(&self) -> u64 {
        self.ttl_ms
    }

    /// Whether it shows in the conversation (and so carries our profile, §4).
    pub fn is_visible(&self) -> bool {
        self.visible
    }

    /// Whether a copy also goes to our own swarm (see [`Outgoing::own_swarm_copy`]).
    pub fn wants_own_swarm_copy(&self) -> bool {
        self.own_copy
    }

    /// The copy for our own swarm (namespace 0), when this feature makes one: a DataMessage gets
    /// `syncTarget` (105) = the real recipient (§3.3, §3.5); an UnsendRequest goes as is, so
    /// our other devices delete their copy too.
    pub fn own_swarm_copy(&self, recipient: &SessionId) -> Option<Outgoing> {
        if !self.own_copy {
            return None;
        }
        let mut copy = self.clone();
        if let Some(data) = copy.content.data_message.as_mut() {
            data.sync_target = Some(recipient.to_string());
        }
        copy.own_copy = false;
        Some(copy)
    }

    /// Sets `sigTimestamp` to the sent timestamp, serializes and pads (§3.3, §3.4).
    pub fn into_content(self) -> OutgoingContent {
        OutgoingContent::new(self.content, self.sent_ms)
    }
}

fn with_profile(data: &mut DataMessage, profile: Option<&Profile>) {
    if let Some(profile) = profile {
        let (loki, key) = profile.to_proto();
        data.profile = Some(loki);
        data.profile_key = key;
    }
}

/// A visible message: text, a reply, attachments (DESKTOP `VisibleMessage`).
#[derive(Debug, Clone, Default)]
pub struct TextMessage {
    /// The text; an empty one is left out.
    pub body: Option<String>,
    /// The message replied to (`Quote{id = its sent timestamp, author}`). As Session Desktop,
    /// the quote names the message and carries no copy of its text or attachments (fields 3
    /// and 4 are reserved in Desktop's proto; messages.md §3.3).
    pub quote: Option<MessageRef>,
    /// Uploaded attachments.
    pub attachments: Vec<AttachmentInfo>,
    /// Our profile, sent with every visible message as real clients do.
    pub profile: Option<Profile>,
    /// The conversation's disappearing setting.
    pub disappearing: Disappearing,
}

impl TextMessage {
    /// Builds the Content; a message with neither text nor attachments is refused.
    pub fn build(&self, sent_ms: u64) -> Result<Outgoing, ChatError> {
        let body = self.body.clone().filter(|b| !b.is_empty());
        if body.is_none() && self.attachments.is_empty() {
            return Err(ChatError::MissingField { field: "body" });
        }
        let mut data = DataMessage {
            body,
            attachments: self.attachments.iter().map(|a| a.to_pointer()).collect(),
            quote: self.quote.map(|q| data_message::Quote {
                id: q.timestamp_ms,
                author: q.author.to_string(),
                text: None,
                attachments: Vec::new(),
            }),
            ..DataMessage::default()
        };
        with_profile(&mut data, self.profile.as_ref());
        let mut content = Content {
            data_message: Some(data),
            ..Content::default()
        };
        self.disappearing.apply(&mut content);
        Ok(Outgoing::new(content, sent_ms, self.disappearing.ttl_ms())
            .visible()
            .with_own_copy())
    }
}

/// Adds or removes an emoji reaction on `target` (`DataMessage.reaction`, §3.3).
pub fn reaction(
    target: MessageRef,
    emoji: &str,
    action: ReactionAction,
    profile: Option<&Profile>,
    sent_ms: u64,
) -> Result<Outgoing, ChatError> {
    if emoji.is_empty() {
        return Err(ChatError::MissingField {
            field: "reaction.emoji",
        });
    }
    let action = match action {
        ReactionAction::Add => data_message::reaction::Action::React,
        ReactionAction::Remove => data_message::reaction::Action::Remove,
    };
    let mut data = DataMessage {
        reaction: Some(data_message::Reaction {
            id: target.timestamp_ms,
            author: target.author.to_string(),
            emoji: Some(emoji.to_string()),
            action: action as i32,
        }),
        ..DataMessage::default()
    };
    with_profile(&mut data, profile);
    let content = Content {
        data_message: Some(data),
        ..Content::default()
    };
    Ok(Outgoing::new(content, sent_ms, TTL_CONTENT_MS)
        .visible()
        .with_own_copy())
}

/// Deletes `target` for everyone (`UnsendRequest`, §3.3); receivers honour it only from the
/// target's author, so `target.author` must be us.
pub fn unsend(target: MessageRef, sent_ms: u64) -> Outgoing {
    let content = Content {
        unsend_request: Some(UnsendRequest {
            timestamp: target.timestamp_ms,
            author: target.author.to_string(),
        }),
        ..Content::default()
    };
    Outgoing::new(content, sent_ms, TTL_CONTENT_MS).with_own_copy()
}

/// Tells the peer we read its messages sent at `timestamps` (`ReceiptMessage{READ}`, §3.3).
pub fn read_receipt(timestamps: &[u64], sent_ms: u64) -> Result<Outgoing, ChatError> {
    if timestamps.is_empty() {
        return Err(ChatError::MissingField {
            field: "receipt.timestamp",
        });
    }
    let content = Content {
        receipt_message: Some(ReceiptMessage {
            r#type: receipt_message::Type::Read as i32,
            timestamp: timestamps.to_vec(),
        }),
        ..Content::default()
    };
    Ok(Outgoing::new(content, sent_ms, TTL_CONTENT_MS))
}

/// Typing started (`true`) or stopped (`TypingMessage`, §3.3), stored for 20 s.
pub fn typing(started: bool, sent_ms: u64) -> Outgoing {
    let action = if started {
        typing_message::Action::Started
    } else {
        typing_message::Action::Stopped
    };
    let content = Content {
        typing_message: Some(TypingMessage {
            timestamp: sent_ms,
            action: action as i32,
        }),
        ..Content::default()
    };
    Outgoing::new(content, sent_ms, TTL_TYPING_MS)
}

/// A groups-v2 control message (groups.md §6: an invitation sent 1:1, or an answer or
/// leaving notice sent to the group): not shown in history, no own-swarm copy, the content TTL.
pub fn group_control(
    update: crate::protocol::protos::GroupUpdateMessage,
    sent_ms: u64,
) -> Outgoing {
    let content = crate::protocol::groups::control::control_content(update);
    Outgoing::new(content, sent_ms, super::TTL_CONTENT_MS)
}

/// Accepts a message request (`MessageRequestResponse{isApproved = true}` with our profile,
/// §3.3, §8), so the sender's client shows the chat as accepted.
pub fn message_request_response(profile: Option<&Profile>, sent_ms: u64) -> Outgoing {
    let (profile, profile_key) = match profile.map(Profile::to_proto) {
        Some((loki, key)) => (Some(loki), key),
        None => (None, None),
    };
    let content = Content {
        message_request_response: Some(MessageRequestResponse {
            is_approved: true,
            profile_key,
            profile,
        }),
        ..Content::default()
    };
    Outgoing::new(content, sent_ms, TTL_CONTENT_MS)
}

/// Announces a new disappearing-message setting (DESKTOP `ExpirationTimerUpdateMessage`:
/// `DataMessage.flags = EXPIRATION_TIMER_UPDATE`, the setting in Content fields 12/13).
pub fn expiration_timer_update(setting: Disappearing, sent_ms: u64) -> Outgoing {
    let mut content = Content {
        data_message: Some(DataMessage {
            flags: Some(data_message::Flags::ExpirationTimerUpdate as u32),
            ..DataMessage::default()
        }),
        ..Content::default()
    };
    setting.apply(&mut content);
    Outgoing::new(content, sent_ms, setting.ttl_ms()).with_own_copy()
}

/// Tells the peer we saved its media (`MEDIA_SAVED`) or took a screenshot, about the message
/// sent at `referenced_ms` (DESKTOP `DataExtractionNotificationMessage`). DESKTOP turns an
/// "after send" setting into "after read" with the same timer for these; callers pass the
/// setting they want applied.
pub fn data_extraction(
    screenshot: bool,
    referenced_ms: u64,
    disappearing: Disappearing,
    sent_ms: u64,
) -> Outgoing {
    let kind = if screenshot {
        data_extraction_notification::Type::Screenshot
    } else {
        data_extraction_notification::Type::MediaSaved
    };
    let mut content = Content {
        data_extraction_notification: Some(DataExtractionNotification {
            r#type: kind as i32,
            timestamp: Some(referenced_ms),
        }),
        ..Content::default()
    };
    disappearing.apply(&mut content);
    Outgoing::new(content, sent_ms, disappearing.ttl_ms())
}

/// Invites the peer to a community (`DataMessage.openGroupInvitation{url, name}`, §3.3).
pub fn community_invitation(
    url: &str,
    name: &str,
    profile: Option<&Profile>,
    disappearing: Disappearing,
    sent_ms: u64,
) -> Result<Outgoing, ChatError> {
    if url.is_empty() {
        return Err(ChatError::MissingField {
            field: "communityInvitation.url",
        });
    }
    let mut data = DataMessage {
        open_group_invitation: Some(data_message::OpenGroupInvitation {
            url: url.to_string(),
            name: name.to_string(),
        }),
        ..DataMessage::default()
    };
    with_profile(&mut data, profile);
    let mut content = Content {
        data_message: Some(data),
        ..Content::default()
    };
    disappearing.apply(&mut content);
    Ok(Outgoing::new(content, sent_ms, disappearing.ttl_ms())
        .visible()
        .with_own_copy())
}
