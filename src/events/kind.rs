//! The event types: their wire names and the list webhook filters are checked against.

use serde::{Deserialize, Serialize};

/// Event types (issue 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    /// A verified incoming message (or a sync copy from the account's other device).
    #[serde(rename = "message.received")]
    MessageReceived,
    /// A swarm node confirmed an outgoing message.
    #[serde(rename = "message.sent")]
    MessageSent,
    /// An outgoing message exhausted its retries.
    #[serde(rename = "message.failed")]
    MessageFailed,
    /// An account changed state.
    #[serde(rename = "account.status")]
    AccountStatus,
    /// The peer read one of our messages.
    #[serde(rename = "message.read")]
    MessageRead,
    /// An emoji reaction was added to a message.
    #[serde(rename = "reaction.added")]
    ReactionAdded,
    /// An emoji reaction was removed from a message.
    #[serde(rename = "reaction.removed")]
    ReactionRemoved,
    /// A message was unsent by its author or deleted locally.
    #[serde(rename = "message.deleted")]
    MessageDeleted,
    /// A disappearing message expired and left the history.
    #[serde(rename = "message.expired")]
    MessageExpired,
    /// The peer started typing.
    #[serde(rename = "typing.started")]
    TypingStarted,
    /// The peer stopped typing.
    #[serde(rename = "typing.stopped")]
    TypingStopped,
    /// A contact's display name or avatar changed.
    #[serde(rename = "profile.updated")]
    ProfileUpdated,
    /// A first message from an unknown sender (once per conversation).
    #[serde(rename = "message_request.received")]
    MessageRequestReceived,
    /// The peer accepted our message request.
    #[serde(rename = "message_request.accepted")]
    MessageRequestAccepted,
    /// A conversation's settings changed (disappearing messages, state).
    #[serde(rename = "conversation.updated")]
    ConversationUpdated,
    /// The peer took a screenshot or saved media.
    #[serde(rename = "data_extraction.received")]
    DataExtractionReceived,
    /// The peer invited us to a community.
    #[serde(rename = "community_invitation.received")]
    CommunityInvitationReceived,
    /// The peer is calling (never answered).
    #[serde(rename = "call.offered")]
    CallOffered,
    /// An incoming attachment was fetched, verified and stored.
    #[serde(rename = "attachment.available")]
    AttachmentAvailable,
    /// An incoming attachment was rejected or could not be fetched (`failure_reason`).
    #[serde(rename = "attachment.failed")]
    AttachmentFailed,
    /// An admin invited the account to a closed group.
    #[serde(rename = "group.invited")]
    GroupInvited,
    /// The account joined a group (accepted an invitation, or created the group).
    #[serde(rename = "group.joined")]
    GroupJoined,
    /// A member was added to a group the account is in.
    #[serde(rename = "group.member_added")]
    GroupMemberAdded,
    /// A member left a group the account is in.
    #[serde(rename = "group.member_left")]
    GroupMemberLeft,
    /// A group's name, description or disappearing setting changed (`changed` says which).
    #[serde(rename = "group.updated")]
    GroupUpdated,
    /// An admin removed a member from a group the account is in.
    #[serde(rename = "group.member_removed")]
    GroupMemberRemoved,
    /// A member of a group the account is in became an admin (the account itself, too).
    #[serde(rename = "group.member_promoted")]
    GroupMemberPromoted,
    /// An admin removed the account from a group: it can no longer read or post there.
    #[serde(rename = "group.kicked")]
    GroupKicked,
    /// An admin destroyed a group the account is in.
    #[serde(rename = "group.destroyed")]
    GroupDestroyed,
    /// The account joined a community room.
    #[serde(rename = "community.joined")]
    CommunityJoined,
    /// A joined room's info changed (name, description, image, moderators, …).
    #[serde(rename = "community.updated")]
    CommunityUpdated,
    /// A message's author edited it (community rooms).
    #[serde(rename = "message.edited")]
    MessageEdited,
    /// A webhook endpoint answered `410 Gone` and was disabled (no account).
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled,
}

impl EventType {
    /// The wire name (`message.received`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageReceived => "message.received",
            Self::MessageSent => "message.sent",
            Self::MessageFailed => "message.failed",
            Self::AccountStatus => "account.status",
            Self::MessageRead => "message.read",
            Self::ReactionAdded => "reaction.added",
            Self::ReactionRemoved => "reaction.removed",
            Self::MessageDeleted => "message.deleted",
            Self::MessageExpired => "message.expired",
            Self::TypingStarted => "typing.started",
            Self::TypingStopped => "typing.stopped",
            Self::ProfileUpdated => "profile.updated",
            Self::MessageRequestReceived => "message_request.received",
            Self::MessageRequestAccepted => "message_request.accepted",
            Self::ConversationUpdated => "conversation.updated",
            Self::DataExtractionReceived => "data_extraction.received",
            Self::CommunityInvitationReceived => "community_invitation.received",
            Self::CallOffered => "call.offered",
            Self::AttachmentAvailable => "attachment.available",
            Self::AttachmentFailed => "attachment.failed",
            Self::GroupInvited => "group.invited",
            Self::GroupJoined => "group.joined",
            Self::GroupMemberAdded => "group.member_added",
            Self::GroupMemberLeft => "group.member_left",
            Self::GroupUpdated => "group.updated",
            Self::GroupMemberRemoved => "group.member_removed",
            Self::GroupMemberPromoted => "group.member_promoted",
            Self::GroupKicked => "group.kicked",
            Self::GroupDestroyed => "group.destroyed",
            Self::CommunityJoined => "community.joined",
            Self::CommunityUpdated => "community.updated",
            Self::MessageEdited => "message.edited",
            Self::WebhookDisabled => "webhook.disabled",
        }
    }

    /// Every type, for validating filters.
    pub const ALL: [EventType; 33] = [
        Self::MessageReceived,
        Self::MessageSent,
        Self::MessageFailed,
        Self::AccountStatus,
        Self::MessageRead,
        Self::ReactionAdded,
        Self::ReactionRemoved,
        Self::MessageDeleted,
        Self::MessageExpired,
        Self::TypingStarted,
        Self::TypingStopped,
        Self::ProfileUpdated,
        Self::MessageRequestReceived,
        Self::MessageRequestAccepted,
        Self::ConversationUpdated,
        Self::DataExtractionReceived,
        Self::CommunityInvitationReceived,
        Self::CallOffered,
        Self::AttachmentAvailable,
        Self::AttachmentFailed,
        Self::GroupInvited,
        Self::GroupJoined,
        Self::GroupMemberAdded,
        Self::GroupMemberLeft,
        Self::GroupUpdated,
        Self::GroupMemberRemoved,
        Self::GroupMemberPromoted,
        Self::GroupKicked,
        Self::GroupDestroyed,
        Self::CommunityJoined,
        Self::CommunityUpdated,
        Self::MessageEdited,
        Self::WebhookDisabled,
    ];

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}
