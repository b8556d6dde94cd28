//! The typed event bodies: one [`EventData`] variant per [`EventType`], each built by one
//! constructor here, so every place that emits an event writes the same JSON.
//!
//! This module sits below the store (the outbox stores an [`EventData`] as JSON text), so it
//! cannot name the store's message and attachment views: those events carry the view already
//! serialized ([`MessageBody`], [`AttachmentBody`]) and document it by the view's schema name.
//!
//! In `/openapi.json` each body is a component schema, and the `WebhookEvent` schema is a `oneOf`
//! with one entry per type: `{"type": {"enum": ["<type>"]}, "data": {"$ref": "<body schema>"}}`
//! (see [`webhook_event_schema`]).

mod kind;
mod openapi;

use serde::Serialize;

pub use kind::EventType;
pub use openapi::{data_schema_name, schemas, webhook_event_schema, WEBHOOK_EVENT};

/// A message object (the store's message view, serialized), the body of `message.*` events
/// other than `message.deleted` and `message.expired`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct MessageBody(serde_json::Value);

/// An attachment object (the store's attachment view, serialized), the body of
/// `attachment.available` and `attachment.failed`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct AttachmentBody(serde_json::Value);

/// `reaction.added`, `reaction.removed`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReactionData {
    /// The peer's Session ID.
    pub conversation: String,
    /// The message reacted to.
    pub message_id: String,
    /// The emoji.
    pub emoji: String,
    /// Who reacted (Session ID).
    pub author: String,
}

/// `message.deleted`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MessageDeletedData {
    /// The peer's Session ID.
    pub conversation: String,
    /// The deleted message.
    pub message_id: String,
    /// `everyone` (unsent) or `local`.
    pub scope: String,
    /// Who deleted it (Session ID).
    pub by: String,
}

/// `message.expired`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MessageExpiredData {
    /// The peer's Session ID.
    pub conversation: String,
    /// The expired message.
    pub message_id: String,
}

/// `typing.started`, `typing.stopped`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TypingData {
    /// The peer's Session ID.
    pub conversation: String,
    /// The typing message's timestamp, ms.
    pub timestamp: u64,
}

/// `profile.updated`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProfileUpdatedData {
    /// The peer's Session ID.
    pub conversation: String,
    /// The new display name (`null` when none).
    pub display_name: Option<String>,
    /// The new avatar URL (`null` when none).
    pub avatar_url: Option<String>,
}

/// `message_request.received`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MessageRequestReceivedData {
    /// The sender's Session ID.
    pub conversation: String,
    /// `accepted` or `pending` (held under `message_requests: hold`).
    pub state: String,
}

/// `message_request.accepted`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MessageRequestAcceptedData {
    /// The peer's Session ID.
    pub conversation: String,
}

/// A disappearing-messages setting.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DisappearingSetting {
    /// `off`, `after_send` or `after_read`.
    pub mode: String,
    /// The timer, seconds.
    pub seconds: i64,
}

/// `conversation.updated`: exactly one of `disappearing` and `state` is present.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConversationUpdatedData {
    /// The peer's Session ID.
    pub conversation: String,
    /// The new disappearing-messages setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disappearing: Option<DisappearingSetting>,
    /// The new conversation state (`accepted`, `declined`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// `data_extraction.received`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DataExtractionData {
    /// The peer's Session ID.
    pub conversation: String,
    /// `screenshot` or `media_saved`.
    pub kind: String,
    /// The referenced message's timestamp, ms (`null` when not sent).
    pub timestamp: Option<u64>,
}

/// `community_invitation.received`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CommunityInvitationData {
    /// The peer's Session ID.
    pub conversation: String,
    /// The community URL (with its `?public_key=`).
    pub url: String,
    /// The community name.
    pub name: String,
}

/// `call.offered`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallOfferedData {
    /// The peer's Session ID.
    pub conversation: String,
    /// The call's UUID.
    pub uuid: String,
    /// `pre_offer` or `offer`.
    pub kind: String,
}

/// `account.status`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AccountStatusData {
    /// The new status (`active`, `paused`).
    pub status: String,
    /// The status before.
    pub previous: String,
}

/// `group.invited`, `group.joined`, `group.updated`, `group.kicked`, `group.destroyed`: a group
/// as the account sees it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupData {
    /// The group's `03` ID (also the conversation ID of its messages).
    pub group: String,
    /// Its name.
    pub name: String,
    /// Its description (`null` when none).
    pub description: Option<String>,
    /// Who invited the account (`group.invited`; `null` otherwise).
    pub inviter: Option<String>,
    /// `group.updated`: what changed (`name`, `description`, `disappearing`, `avatar`);
    /// absent on the other events.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// `group.updated`: the disappearing-messages timer in seconds (`null` when off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disappearing_seconds: Option<i64>,
}

/// `group.member_added`, `group.member_left`, `group.member_removed`, `group.member_promoted`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupMemberData {
    /// The group's `03` ID.
    pub group: String,
    /// The member's Session ID.
    pub member: String,
}

/// `community.joined`, `community.updated`: a room as the account sees it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CommunityData {
    /// The room's conversation ID (`http(s)://host[:port]/room`).
    pub conversation: String,
    /// The join URL (with `?public_key=`).
    pub url: String,
    /// The room's name.
    pub name: String,
    /// Its description (`null` when none).
    pub description: Option<String>,
    /// The account's blinded ID in the room (`15…`): the author of its posts there.
    pub blinded_id: String,
    /// The account moderates the room.
    pub moderator: bool,
}

/// `webhook.disabled`: an endpoint answered `410 Gone`, so deliveries to it stopped.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WebhookDisabledData {
    /// The webhook's id.
    pub webhook_id: String,
    /// The URL that answered 410.
    pub url: String,
}

/// An event's `data`, typed by its event type. Serializes as the body alone (the type is a
/// column of its own), exactly as the gateway wrote it before the types existed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventData {
    /// `message.received`.
    MessageReceived(MessageBody),
    /// `message.sent`.
    MessageSent(MessageBody),
    /// `message.failed`.
    MessageFailed(MessageBody),
    /// `account.status`.
    AccountStatus(AccountStatusData),
    /// `message.read`.
    MessageRead(MessageBody),
    /// `reaction.added`.
    ReactionAdded(ReactionData),
    /// `reaction.removed`.
    ReactionRemoved(ReactionData),
    /// `message.deleted`.
    MessageDeleted(MessageDeletedData),
    /// `message.expired`.
    MessageExpired(MessageExpiredData),
    /// `typing.started`.
    TypingStarted(TypingData),
    /// `typing.stopped`.
    TypingStopped(TypingData),
    /// `profile.updated`.
    ProfileUpdated(ProfileUpdatedData),
    /// `message_request.received`.
    MessageRequestReceived(MessageRequestReceivedData),
    /// `message_request.accepted`.
    MessageRequestAccepted(MessageRequestAcceptedData),
    /// `conversation.updated`.
    ConversationUpdated(ConversationUpdatedData),
    /// `data_extraction.received`.
    DataExtractionReceived(DataExtractionData),
    /// `community_invitation.received`.
    CommunityInvitationReceived(CommunityInvitationData),
    /// `call.offered`.
    CallOffered(CallOfferedData),
    /// `attachment.available`.
    AttachmentAvailable(AttachmentBody),
    /// `attachment.failed`.
    AttachmentFailed(AttachmentBody),
    /// `group.invited`.
    GroupInvited(GroupData),
    /// `group.joined`.
    GroupJoined(GroupData),
    /// `group.member_added`.
    GroupMemberAdded(GroupMemberData),
    /// `group.member_left`.
    GroupMemberLeft(GroupMemberData),
    /// `group.updated`.
    GroupUpdated(GroupData),
    /// `group.member_removed`.
    GroupMemberRemoved(GroupMemberData),
    /// `group.member_promoted`.
    GroupMemberPromoted(GroupMemberData),
    /// `group.kicked`.
    GroupKicked(GroupData),
    /// `group.destroyed`.
    GroupDestroyed(GroupData),
    /// `community.joined`.
    CommunityJoined(CommunityData),
    /// `community.updated`.
    CommunityUpdated(CommunityData),
    /// `message.edited`.
    MessageEdited(MessageBody),
    /// `webhook.disabled`.
    WebhookDisabled(WebhookDisabledData),
}

/// Which message event a message object is the body of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageEvent {
    /// `message.received`: a verified incoming message, or one released from a held request.
    Received,
    /// `message.sent`.
    Sent,
    /// `message.failed`.
    Failed,
    /// `message.read`.
    Read,
    /// `message.edited`: a community message its author edited.
    Edited,
}

impl EventData {
    /// The event type this body belongs to.
    pub fn event_type(&self) -> EventType {
        match self {
            Self::MessageReceived(_) => EventType::MessageReceived,
            Self::MessageSent(_) => EventType::MessageSent,
            Self::MessageFailed(_) => EventType::MessageFailed,
            Self::AccountStatus(_) => EventType::AccountStatus,
            Self::MessageRead(_) => EventType::MessageRead,
            Self::ReactionAdded(_) => EventType::ReactionAdded,
            Self::ReactionRemoved(_) => EventType::ReactionRemoved,
            Self::MessageDeleted(_) => EventType::MessageDeleted,
            Self::MessageExpired(_) => EventType::MessageExpired,
            Self::TypingStarted(_) => EventType::TypingStarted,
            Self::TypingStopped(_) => EventType::TypingStopped,
            Self::ProfileUpdated(_) => EventType::ProfileUpdated,
            Self::MessageRequestReceived(_) => EventType::MessageRequestReceived,
            Self::MessageRequestAccepted(_) => EventType::MessageRequestAccepted,
            Self::ConversationUpdated(_) => EventType::ConversationUpdated,
            Self::DataExtractionReceived(_) => EventType::DataExtractionReceived,
            Self::CommunityInvitationReceived(_) => EventType::CommunityInvitationReceived,
            Self::CallOffered(_) => EventType::CallOffered,
            Self::AttachmentAvailable(_) => EventType::AttachmentAvailable,
            Self::AttachmentFailed(_) => EventType::AttachmentFailed,
            Self::GroupInvited(_) => EventType::GroupInvited,
            Self::GroupJoined(_) => EventType::GroupJoined,
            Self::GroupMemberAdded(_) => EventType::GroupMemberAdded,
            Self::GroupMemberLeft(_) => EventType::GroupMemberLeft,
            Self::GroupUpdated(_) => EventType::GroupUpdated,
            Self::GroupMemberRemoved(_) => EventType::GroupMemberRemoved,
            Self::GroupMemberPromoted(_) => EventType::GroupMemberPromoted,
            Self::GroupKicked(_) => EventType::GroupKicked,
            Self::GroupDestroyed(_) => EventType::GroupDestroyed,
            Self::CommunityJoined(_) => EventType::CommunityJoined,
            Self::CommunityUpdated(_) => EventType::CommunityUpdated,
            Self::MessageEdited(_) => EventType::MessageEdited,
            Self::WebhookDisabled(_) => EventType::WebhookDisabled,
        }
    }

    /// A `message.*` event whose body is the message object (`message` is the store's view).
    pub fn message(
        event: MessageEvent,
        message: &impl Serialize,
    ) -> Result<Self, serde_json::Error> {
        let body = MessageBody(serde_json::to_value(message)?);
        Ok(match event {
            MessageEvent::Received => Self::MessageReceived(body),
            MessageEvent::Sent => Self::MessageSent(body),
            MessageEvent::Failed => Self::MessageFailed(body),
            MessageEvent::Read => Self::MessageRead(body),
            MessageEvent::Edited => Self::MessageEdited(body),
        })
    }

    /// `attachment.available` (`available`) or `attachment.failed`, the body being the
    /// attachment object (the store's view, with `failure_reason` when failed).
    pub fn attachment(available: bool, view: &impl Serialize) -> Result<Self, serde_json::Error> {
        let body = AttachmentBody(serde_json::to_value(view)?);
        Ok(if available {
            Self::AttachmentAvailable(body)
        } else {
            Self::AttachmentFailed(body)
        })
    }

    /// `account.status` when an account's status changed (`active`, `paused`).
    pub fn account_status(status: &str, previous: &str) -> Self {
        Self::AccountStatus(AccountStatusData {
            status: status.to_owned(),
            previous: previous.to_owned(),
        })
    }

    /// `reaction.added` (`removed` false) or `reaction.removed`.
    pub fn reaction(
        removed: bool,
        conversation: &str,
        message_id: &str,
        emoji: &str,
        author: &str,
    ) -> Self {
        let data = ReactionData {
            conversation: conversation.to_owned(),
            message_id: message_id.to_owned(),
            emoji: emoji.to_owned(),
            author: author.to_owned(),
        };
        if removed {
            Self::ReactionRemoved(data)
        } else {
            Self::ReactionAdded(data)
        }
    }

    /// `message.deleted`: `scope` is `everyone` (unsent) or `local`; `by` deleted it.
    pub fn message_deleted(conversation: &str, message_id: &str, scope: &str, by: &str) -> Self {
        Self::MessageDeleted(MessageDeletedData {
            conversation: conversation.to_owned(),
            message_id: message_id.to_owned(),
            scope: scope.to_owned(),
            by: by.to_owned(),
        })
    }

    /// `message.expired`.
    pub fn message_expired(conversation: &str, message_id: &str) -> Self {
        Self::MessageExpired(MessageExpiredData {
            conversation: conversation.to_owned(),
            message_id: message_id.to_owned(),
        })
    }

    /// `typing.started` (`started`) or `typing.stopped`.
    pub fn typing(started: bool, conversation: &str, timestamp: u64) -> Self {
        let data = TypingData {
            conversation: conversation.to_owned(),
            timestamp,
        };
        if started {
            Self::TypingStarted(data)
        } else {
            Self::TypingStopped(data)
        }
    }

    /// `profile.updated`.
    pub fn profile_updated(
        conversation: &str,
        display_name: Option<&str>,
        avatar_url: Option<&str>,
    ) -> Self {
        Self::ProfileUpdated(ProfileUpdatedData {
            conversation: conversation.to_owned(),
            display_name: display_name.map(str::to_owned),
            avatar_url: avatar_url.map(str::to_owned),
        })
    }

    /// A group event with the group's facts: `group.invited` (with the inviter),
    /// `group.joined`, `group.kicked`, `group.destroyed` or `group.updated` (see
    /// [`EventData::group_updated`] for what changed).
    pub fn group(
        event_type: EventType,
        group: &str,
        name: &str,
        description: Option<&str>,
        inviter: Option<&str>,
    ) -> Self {
        let data = GroupData {
            group: group.to_owned(),
            name: name.to_owned(),
            description: description.map(str::to_owned),
            inviter: inviter.map(str::to_owned),
            changed: Vec::new(),
            disappearing_seconds: None,
        };
        match event_type {
            EventType::GroupInvited => Self::GroupInvited(data),
            EventType::GroupJoined => Self::GroupJoined(data),
            EventType::GroupKicked => Self::GroupKicked(data),
            EventType::GroupDestroyed => Self::GroupDestroyed(data),
            _ => Self::GroupUpdated(data),
        }
    }

    /// `group.updated`: the group's facts after the change, and what `changed`.
    pub fn group_updated(
        group: &str,
        info: &crate::protocol::groups::config::info::GroupInfo,
        changed: Vec<String>,
    ) -> Self {
        Self::GroupUpdated(GroupData {
            group: group.to_owned(),
            name: info.name.clone().unwrap_or_default(),
            description: info.description.clone(),
            inviter: None,
            changed,
            disappearing_seconds: info.expiry_timer,
        })
    }

    /// `group.member_added` (`added`) or `group.member_left`.
    pub fn group_member(added: bool, group: &str, member: &str) -> Self {
        let event = if added {
            EventType::GroupMemberAdded
        } else {
            EventType::GroupMemberLeft
        };
        Self::group_member_event(event, group, member)
    }

    /// A member event: `group.member_added`, `group.member_left`, `group.member_removed` or
    /// `group.member_promoted` (anything else reads as `group.member_added`).
    pub fn group_member_event(event_type: EventType, group: &str, member: &str) -> Self {
        let data = GroupMemberData {
            group: group.to_owned(),
            member: member.to_owned(),
        };
        match event_type {
            EventType::GroupMemberLeft => Self::GroupMemberLeft(data),
            EventType::GroupMemberRemoved => Self::GroupMemberRemoved(data),
            EventType::GroupMemberPromoted => Self::GroupMemberPromoted(data),
            _ => Self::GroupMemberAdded(data),
        }
    }

    /// `message_request.received`, with the state the new conversation got.
    pub fn message_request_received(conversation: &str, state: &str) -> Self {
        Self::MessageRequestReceived(MessageRequestReceivedData {
            conversation: conversation.to_owned(),
            state: state.to_owned(),
        })
    }

    /// `message_request.accepted`: the peer accepted our request.
    pub fn message_request_accepted(conversation: &str) -> Self {
        Self::MessageRequestAccepted(MessageRequestAcceptedData {
            conversation: conversation.to_owned(),
        })
    }

    /// `conversation.updated` with a new disappearing-messages setting.
    pub fn disappearing_updated(conversation: &str, mode: &str, seconds: i64) -> Self {
        Self::ConversationUpdated(ConversationUpdatedData {
            conversation: conversation.to_owned(),
            disappearing: Some(DisappearingSetting {
                mode: mode.to_owned(),
                seconds,
            }),
            state: None,
        })
    }

    /// `conversation.updated` with a new conversation state.
    pub fn state_updated(conversation: &str, state: &str) -> Self {
        Self::ConversationUpdated(ConversationUpdatedData {
            conversation: conversation.to_owned(),
            disappearing: None,
            state: Some(state.to_owned()),
        })
    }

    /// `webhook.disabled`: `webhook_id` answered `410 Gone` at `url`.
    pub fn webhook_disabled(webhook_id: &str, url: &str) -> Self {
        Self::WebhookDisabled(WebhookDisabledData {
            webhook_id: webhook_id.to_owned(),
            url: url.to_owned(),
        })
    }

    /// `data_extraction.received`: `kind` is `screenshot` or `media_saved`.
    pub fn data_extraction(conversation: &str, kind: &str, timestamp: Option<u64>) -> Self {
        Self::DataExtractionReceived(DataExtractionData {
            conversation: conversation.to_owned(),
            kind: kind.to_owned(),
            timestamp,
        })
    }

    /// `community_invitation.received`.
    pub fn community_invitation(conversation: &str, url: &str, name: &str) -> Self {
        Self::CommunityInvitationReceived(CommunityInvitationData {
            conversation: conversation.to_owned(),
            url: url.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `call.offered`: `kind` is `pre_offer` or `offer`.
    pub fn call_offered(conversation: &str, uuid: &str, kind: &str) -> Self {
        Self::CallOffered(CallOfferedData {
            conversation: conversation.to_owned(),
            uuid: uuid.to_owned(),
            kind: kind.to_owned(),
        })
    }
}
