//! Classifying a received Content into chat events (messages.md §3.3; DESKTOP
//! `ts/receiver/contentMessage.ts`, `dataMessage.ts`).
//!
//! One Content may yield several events (e.g. a message and the sender's profile). What the
//! layer understands but the gateway does not act on (delivery receipts, call signalling past
//! the offer, group-v2 control, legacy config) yields [`ChatEvent::Ignored`] with a reason; a
//! Content with nothing in it, or with malformed IDs, is an error. Nothing here panics on peer
//! data.

use std::fmt;

use super::expiration::Disappearing;
use super::outgoing::{MessageRef, ReactionAction};
use super::pointer::AttachmentInfo;
use super::profile::Profile;
use super::ChatError;
use crate::protocol::keys::SessionId;
use crate::protocol::protos::{
    call_message, data_extraction_notification, data_message, receipt_message, typing_message,
    CallMessage, Content, DataMessage,
};

/// A visible message (text, attachments, reply), incoming or a sync copy of our own.
#[derive(Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// Its sent timestamp (the envelope's), ms: the id others quote, react to and unsend.
    pub sent_ms: u64,
    /// The text, when non-empty.
    pub text: Option<String>,
    /// The message replied to.
    pub quote: Option<MessageRef>,
    /// Valid attachment pointers, in order.
    pub attachments: Vec<AttachmentInfo>,
    /// Pointers that could not be used, with why (the message is still delivered).
    pub rejected_attachments: Vec<RejectedAttachment>,
    /// The sender's profile as sent with the message.
    pub profile: Option<Profile>,
    /// The disappearing setting the message was sent under.
    pub expiration: Disappearing,
    /// For a sync copy of our own message (sender = us, `syncTarget` set): its real recipient.
    pub sync_target: Option<SessionId>,
}

/// Message bodies stay out of logs (style.md habit 10).
impl fmt::Debug for IncomingMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingMessage")
            .field("sent_ms", &self.sent_ms)
            .field("text_len", &self.text.as_ref().map(String::len))
            .field("quote", &self.quote)
            .field("attachments", &self.attachments.len())
            .field("rejected_attachments", &self.rejected_attachments)
            .field("expiration", &self.expiration)
            .field("sync_target", &self.sync_target)
            .finish_non_exhaustive()
    }
}

/// An attachment pointer left out of a message, by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedAttachment {
    /// Index in `DataMessage.attachments`.
    pub index: usize,
    /// Why it cannot be fetched.
    pub reason: ChatError,
}

/// `DataExtractionNotification.type` (§3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataExtractionKind {
    /// `SCREENSHOT = 1`.
    Screenshot,
    /// `MEDIA_SAVED = 2`.
    MediaSaved,
}

/// `CallMessage.type` (§3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// `PRE_OFFER = 6`.
    PreOffer,
    /// `OFFER = 1`.
    Offer,
    /// `ANSWER = 2`.
    Answer,
    /// `PROVISIONAL_ANSWER = 3`.
    ProvisionalAnswer,
    /// `ICE_CANDIDATES = 4`.
    IceCandidates,
    /// `END_CALL = 5`.
    EndCall,
}

/// Why a well-formed Content (or part of one) produces no chat event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    /// A `DELIVERY` receipt (only `READ` receipts are surfaced).
    DeliveryReceipt,
    /// Call signalling other than an offer (calls are never answered).
    CallSignal(CallKind),
    /// Groups-v2 control (`DataMessage.groupUpdateMessage`), not a 1:1 feature.
    GroupUpdate,
    /// The legacy `sharedConfigMessage`.
    SharedConfig,
    /// A `syncTarget` from someone else than us: DESKTOP drops such messages.
    SyncFromOther,
    /// An `UnsendRequest` whose author is not its sender: only authors may unsend.
    UnsendByOther,
    /// A DataMessage with nothing this layer shows (no text, attachment, reaction, …).
    EmptyDataMessage,
    /// An enum value this schema does not know, in the named field.
    UnknownValue {
        /// The field, e.g. `typingMessage.action`.
        field: &'static str,
        /// The value received.
        value: i32,
    },
}

/// A `GroupUpdateInviteMessage` as received (groups.md §6.1), not yet checked: the check
/// needs the recipient's keys ([`crate::protocol::groups::control::verify_invite`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInvite {
    /// `groupSessionId` (03…).
    pub group: String,
    /// The group name the inviter sent.
    pub name: String,
    /// `memberAuthData` (100 bytes when valid).
    pub member_auth_data: Vec<u8>,
    /// `adminSignature`.
    pub admin_signature: Vec<u8>,
}

/// The group secret a promotion carries (`Debug` shows only the group ID; two are equal when
/// they are the same group's).
#[derive(Clone, Debug)]
pub struct PromotedGroup(pub crate::protocol::groups::GroupSecret);

impl PartialEq for PromotedGroup {
    fn eq(&self, other: &Self) -> bool {
        self.0.public() == other.0.public()
    }
}

impl Eq for PromotedGroup {}

/// What a received Content means for the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A promotion to admin of a closed group (1:1): its seed and name (§6.4).
    GroupPromoted {
        /// The group's secret.
        group: PromotedGroup,
        /// The group name the admin sent.
        name: String,
    },
    /// Members' messages to delete (in a group, §6.3). The group source keeps it only when
    /// `admin_signature` verifies, or is absent (then only the sender's own messages go).
    GroupDeleteContent {
        /// Whose messages (admin-signed only).
        members: Vec<String>,
        /// Which messages, by swarm hash.
        hashes: Vec<String>,
        /// The admin signature, when an admin sent it.
        admin_signature: Option<Vec<u8>>,
    },
    /// An invitation to a closed group (1:1).
    GroupInvite(GroupInvite),
    /// A member answered its invitation (in a group).
    GroupInviteResponse {
        /// True when accepted.
        approved: bool,
    },
    /// The sender left the group (in a group).
    GroupMemberLeft,
    /// A visible message.
    Message(IncomingMessage),
    /// An emoji reaction added to `target`.
    ReactionAdded {
        /// The message reacted to.
        target: MessageRef,
        /// The emoji.
        emoji: String,
        /// Set on our own sync copies: the conversation.
        sync_target: Option<SessionId>,
    },
    /// An emoji reaction removed from `target`.
    ReactionRemoved {
        /// The message reacted to.
        target: MessageRef,
        /// The emoji.
        emoji: String,
        /// Set on our own sync copies: the conversation.
        sync_target: Option<SessionId>,
    },
    /// The author deleted `target` for everyone.
    Unsend {
        /// The message to delete (its author is the sender).
        target: MessageRef,
    },
    /// The peer read our messages sent at these timestamps.
    Read {
        /// Sent timestamps, ms.
        timestamps: Vec<u64>,
    },
    /// The peer started typing.
    TypingStarted {
        /// `TypingMessage.timestamp`, ms.
        timestamp_ms: u64,
    },
    /// The peer stopped typing.
    TypingStopped {
        /// `TypingMessage.timestamp`, ms.
        timestamp_ms: u64,
    },
    /// The peer answered our message request.
    MessageRequestResponse {
        /// `isApproved`.
        approved: bool,
        /// The profile it carried.
        profile: Option<Profile>,
    },
    /// A peer's Content carried its profile (keep it when newer than the one held).
    ProfileUpdated(Profile),
    /// The peer saved media or took a screenshot.
    DataExtraction {
        /// What it did.
        kind: DataExtractionKind,
        /// The referenced message's timestamp, when sent.
        timestamp_ms: Option<u64>,
    },
    /// The peer is calling (the gateway never answers).
    CallOffered {
        /// The call's UUID.
        uuid: String,
        /// `PRE_OFFER` or `OFFER`.
        kind: CallKind,
    },
    /// An invitation to a community.
    CommunityInvitation {
        /// The community URL (with its `?public_key=`).
        url: String,
        /// The community name.
        name: String,
        /// Set on our own sync copies: the conversation.
        sync_target: Option<SessionId>,
    },
    /// A new disappearing-message setting for the conversation.
    ExpirationTimerUpdate {
        /// The setting.
        setting: Disappearing,
        /// Set on our own sync copies: the conversation.
        sync_target: Option<SessionId>,
    },
    /// Understood, nothing to surface.
    Ignored(IgnoreReason),
}

/// Classifies a decrypted Content from `sender` (already verified) received by account `own`,
/// whose envelope carried `envelope_ts` (ms). See the module docs for what is an error.
pub fn classify(
    content: &Content,
    sender: &SessionId,
    own: &SessionId,
    envelope_ts: u64,
) -> Result<Vec<ChatEvent>, ChatError> {
    let signed = content.sig_timestamp.unwrap_or(0);
    if signed != 0 && envelope_ts != 0 && signed != envelope_ts {
        return Err(ChatError::SigTimestampMismatch {
            envelope: envelope_ts,
            signed,
        });
    }
    let mut events = Vec::new();
    if let Some(data) = &content.data_message {
        classify_data(content, data, sender, own, envelope_ts, &mut events)?;
    }
    if let Some(call) = &content.call_message {
        events.push(classify_call(call));
    }
    if let Some(receipt) = &content.receipt_message {
        events.push(match receipt_message::Type::try_from(receipt.r#type) {
            Ok(receipt_message::Type::Read) => ChatEvent::Read {
                timestamps: receipt.timestamp.clone(),
            },
            Ok(receipt_message::Type::Delivery) => {
                ChatEvent::Ignored(IgnoreReason::DeliveryReceipt)
            }
            Err(_) => unknown("receiptMessage.type", receipt.r#type),
        });
    }
    if let Some(typing) = &content.typing_message {
        let timestamp_ms = typing.timestamp;
        events.push(match typing_message::Action::try_from(typing.action) {
            Ok(typing_message::Action::Started) => ChatEvent::TypingStarted { timestamp_ms },
            Ok(typing_message::Action::Stopped) => ChatEvent::TypingStopped { timestamp_ms },
            Err(_) => unknown("typingMessage.action", typing.action),
        });
    }
    if let Some(note) = &content.data_extraction_notification {
        use data_extraction_notification::Type;
        let kind = match Type::try_from(note.r#type) {
            Ok(Type::Screenshot) => Some(DataExtractionKind::Screenshot),
            Ok(Type::MediaSaved) => Some(DataExtractionKind::MediaSaved),
            Err(_) => None,
        };
        events.push(match kind {
            Some(kind) => ChatEvent::DataExtraction {
                kind,
                timestamp_ms: note.timestamp,
            },
            None => unknown("dataExtractionNotification.type", note.r#type),
        });
    }
    if let Some(request) = &content.unsend_request {
        let author = session_id(&request.author, "unsendRequest.author")?;
        events.push(if author == *sender {
            ChatEvent::Unsend {
                target: MessageRef {
                    timestamp_ms: request.timestamp,
                    author,
                },
            }
        } else {
            ChatEvent::Ignored(IgnoreReason::UnsendByOther)
        });
    }
    if let Some(response) = &content.message_request_response {
        let profile =
            Profile::from_proto(response.profile.as_ref(), response.profile_key.as_deref());
        if let Some(profile) = profile.clone().filter(|_| sender != own) {
            events.push(ChatEvent::ProfileUpdated(profile));
        }
        events.push(ChatEvent::MessageRequestResponse {
            approved: response.is_approved,
            profile,
        });
    }
    if content.shared_config_message.is_some() {
        events.push(ChatEvent::Ignored(IgnoreReason::SharedConfig));
    }
    if events.is_empty() {
        return Err(ChatError::EmptyContent);
    }
    Ok(events)
}

fn unknown(field: &'static str, value: i32) -> ChatEvent {
    ChatEvent::Ignored(IgnoreReason::UnknownValue { field, value })
}

fn session_id(text: &str, field: &'static str) -> Result<SessionId, ChatError> {
    SessionId::parse(text).map_err(|_| ChatError::BadSessionId { field })
}

fn classify_call(call: &CallMessage) -> ChatEvent {
    use call_message::Type;
    let kind = match Type::try_from(call.r#type) {
        Ok(Type::PreOffer) => CallKind::PreOffer,
        Ok(Type::Offer) => CallKind::Offer,
        Ok(Type::Answer) => CallKind::Answer,
        Ok(Type::ProvisionalAnswer) => CallKind::ProvisionalAnswer,
        Ok(Type::IceCandidates) => CallKind::IceCandidates,
        Ok(Type::EndCall) => CallKind::EndCall,
        Err(_) => return unknown("callMessage.type", call.r#type),
    };
    match kind {
        CallKind::PreOffer | CallKind::Offer => ChatEvent::CallOffered {
            uuid: call.uuid.clone(),
            kind,
        },
        other => ChatEvent::Ignored(IgnoreReason::CallSignal(other)),
    }
}

fn classify_data(
    content: &Content,
    data: &DataMessage,
    sender: &SessionId,
    own: &SessionId,
    envelope_ts: u64,
    events: &mut Vec<ChatEvent>,
) -> Result<(), ChatError> {
    let sync_target = match data.sync_target.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(_) if sender != own => {
            events.push(ChatEvent::Ignored(IgnoreReason::SyncFromOther));
            return Ok(());
        }
        Some(target) => Some(session_id(target, "dataMessage.syncTarget")?),
    };
    if let Some(update) = &data.group_update_message {
        events.push(group_update(update));
        return Ok(());
    }
    let profile = Profile::from_proto(data.profile.as_ref(), data.profile_key.as_deref());
    if let Some(profile) = profile.clone().filter(|_| sender != own) {
        events.push(ChatEvent::ProfileUpdated(profile));
    }
    let timer_update = data_message::Flags::ExpirationTimerUpdate as u32;
    if data.flags.unwrap_or(0) & timer_update != 0 {
        events.push(ChatEvent::ExpirationTimerUpdate {
            setting: Disappearing::from_content(content),
            sync_target,
        });
        return Ok(());
    }
    if let Some(reaction) = &data.reaction {
        events.push(classify_reaction(reaction, sync_target)?);
        return Ok(());
    }
    if let Some(invitation) = &data.open_group_invitation {
        events.push(ChatEvent::CommunityInvitation {
            url: invitation.url.clone(),
            name: invitation.name.clone(),
            sync_target,
        });
        return Ok(());
    }
    let text = data.body.clone().filter(|b| !b.is_empty());
    if text.is_none() && data.attachments.is_empty() {
        if profile.is_none() {
            events.push(ChatEvent::Ignored(IgnoreReason::EmptyDataMessage));
        }
        return Ok(());
    }
    let quote = match &data.quote {
        Some(q) => Some(MessageRef {
            timestamp_ms: q.id,
            author: session_id(&q.author, "quote.author")?,
        }),
        None => None,
    };
    let mut attachments = Vec::new();
    let mut rejected_attachments = Vec::new();
    for (index, pointer) in data.attachments.iter().enumerate() {
        match AttachmentInfo::parse(pointer) {
            Ok(info) => attachments.push(info),
            Err(reason) => rejected_attachments.push(RejectedAttachment { index, reason }),
        }
    }
    events.push(ChatEvent::Message(IncomingMessage {
        sent_ms: envelope_ts,
        text,
        quote,
        attachments,
        rejected_attachments,
        profile,
        expiration: Disappearing::from_content(content),
        sync_target,
    }));
    Ok(())
}

fn classify_reaction(
    reaction: &data_message::Reaction,
    sync_target: Option<SessionId>,
) -> Result<ChatEvent, ChatError> {
    let target = MessageRef {
        timestamp_ms: reaction.id,
        author: session_id(&reaction.author, "reaction.author")?,
    };
    let emoji =
        reaction
            .emoji
            .clone()
            .filter(|e| !e.is_empty())
            .ok_or(ChatError::MissingField {
                field: "reaction.emoji",
            })?;
    let action = match data_message::reaction::Action::try_from(reaction.action) {
        Ok(data_message::reaction::Action::React) => ReactionAction::Add,
        Ok(data_message::reaction::Action::Remove) => ReactionAction::Remove,
        Err(_) => return Ok(unknown("reaction.action", reaction.action)),
    };
    Ok(match action {
        ReactionAction::Add => ChatEvent::ReactionAdded {
            target,
            emoji,
            sync_target,
        },
        ReactionAction::Remove => ChatEvent::ReactionRemoved {
            target,
            emoji,
            sync_target,
        },
    })
}

/// The group control messages the gateway acts on; info and member change notices are
/// ignored (the configs they announce are the truth, and arrive on their own).
fn group_update(update: &crate::protocol::protos::GroupUpdateMessage) -> ChatEvent {
    if let Some(invite) = &update.invite_message {
        return ChatEvent::GroupInvite(GroupInvite {
            group: invite.group_session_id.clone(),
            name: invite.name.clone(),
            member_auth_data: invite.member_auth_data.clone(),
            admin_signature: invite.admin_signature.clone(),
        });
    }
    if let Some(response) = &update.invite_response {
        return ChatEvent::GroupInviteResponse {
            approved: response.is_approved,
        };
    }
    if update.member_left_message.is_some() {
        return ChatEvent::GroupMemberLeft;
    }
    if let Some(promote) = &update.promote_message {
        return match crate::protocol::groups::control::accept_promote(promote, None) {
            Ok(secret) => ChatEvent::GroupPromoted {
                group: PromotedGroup(secret),
                name: promote.name.clone(),
            },
            Err(_) => ChatEvent::Ignored(IgnoreReason::GroupUpdate),
        };
    }
    if let Some(delete) = &update.delete_member_content {
        return ChatEvent::GroupDeleteContent {
            members: delete.member_session_ids.clone(),
            hashes: delete.message_hashes.clone(),
            admin_signature: delete.admin_signature.clone(),
        };
    }
    ChatEvent::Ignored(IgnoreReason::GroupUpdate)
}
