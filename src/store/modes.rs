//! The closed sets of words the store keeps in TEXT columns (conversation state, account chat
//! settings, message kinds, disappearing modes), as enums. Each word is spelled in one place:
//! `as_str` writes it, `parse` reads it back, and serde uses the same spelling, so API JSON and
//! database rows are unchanged. A word the enum does not know in a row is
//! [`StoreError::Corrupt`], never a panic.

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::protocol::chat::Disappearing;

/// Declares a string-backed enum: its variants with their stored words, `as_str`, `parse`
/// (`None` for an unknown word) and `from_column` (an unknown word is corrupt data).
macro_rules! stored_words {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $word:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $word)] $variant, )+
        }

        /// The schema lists the stored words (utoipa's derive cannot read a `rename` passed
        /// through a macro, and showed the variant names).
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($word),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            /// The stored and serialized word.
            pub fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $word, )+ }
            }

            /// Reads a word; `None` if it is not one of this set.
            pub fn parse(word: &str) -> Option<Self> {
                match word { $( $word => Some(Self::$variant), )+ _ => None }
            }

            /// Reads a word from `column`; an unknown word is corrupt data.
            pub fn from_column(column: &str, word: &str) -> Result<Self, StoreError> {
                Self::parse(word).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "{column}: {word:?} is not a {}",
                        stringify!($name)
                    ))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_words! {
    /// A conversation's message-request state.
    ConversationState {
        /// We started it, or accepted the peer's request.
        Accepted = "accepted",
        /// A held request: its messages wait for `accept`.
        Pending = "pending",
        /// Declined: the peer's messages are dropped until accepted.
        Declined = "declined",
    }
}

stored_words! {
    /// What an account does with a message from an unknown peer.
    MessageRequests {
        /// Accept the conversation at once.
        AutoAccept = "auto_accept",
        /// Hold it as a pending request.
        Hold = "hold",
    }
}

stored_words! {
    /// What an invitation to a group does.
    GroupInvites {
        /// Keep it as `invited` until the API accepts or declines it.
        Hold = "hold",
        /// Join at once.
        AutoAccept = "auto_accept",
    }
}

stored_words! {
    /// An account's part in a group.
    GroupRole {
        /// Holds the group seed: signs configs, keys and swarm requests with the group key.
        Admin = "admin",
        /// Reads and writes the group swarm with its grant (memberAuthData).
        Member = "member",
    }
}

stored_words! {
    /// Where an account's membership of a group stands.
    GroupState {
        /// Invited, not yet accepted (not polled, nothing sent).
        Invited = "invited",
        /// A member: the group is polled and messages can be sent.
        Joined = "joined",
        /// The invitation was declined.
        Declined = "declined",
        /// We left the group.
        Left = "left",
        /// An admin removed us.
        Kicked = "kicked",
    }
}

stored_words! {
    /// When an account sends read receipts.
    ReadReceipts {
        /// Only when the client marks messages read.
        Manual = "manual",
        /// As soon as a message arrives.
        Auto = "auto",
    }
}

stored_words! {
    /// What a `messages` row is: a text message or one of the control messages queued with them.
    MessageKind {
        /// A text message (the only kind in history).
        Text = "text",
        /// A reaction added or removed.
        Reaction = "reaction",
        /// A request to delete a sent message.
        Unsend = "unsend",
        /// A read receipt.
        ReadReceipt = "read_receipt",
        /// A typing indicator.
        Typing = "typing",
        /// The answer to a message request.
        RequestResponse = "request_response",
        /// A disappearing-setting change.
        ExpirationUpdate = "expiration_update",
        /// Group state for the group swarm (keys, configs).
        GroupPush = "group_push",
        /// An invitation to a group, sent 1:1.
        GroupInvite = "group_invite",
        /// Our answer to a group invitation, sent to the group.
        GroupInviteResponse = "group_invite_response",
        /// Leaving a group, sent to the group.
        GroupLeave = "group_leave",
        /// An admin's step on the group swarm (removal, promotion and info notices).
        GroupAdmin = "group_admin",
        /// A promotion to group admin, sent 1:1.
        GroupPromote = "group_promote",
        /// The account's own config (UserGroups), for its own swarm.
        UserConfigPush = "user_config_push",
        /// A moderator's step on a community server (delete a post, ban, unban, delete all).
        RoomModeration = "room_moderation",
    }
}

stored_words! {
    /// A conversation's (or a message's) disappearing mode.
    ExpireMode {
        /// Messages stay.
        Off = "off",
        /// The timer starts when the message is sent.
        AfterSend = "after_send",
        /// The timer starts when the message is read.
        AfterRead = "after_read",
    }
}

impl ExpireMode {
    /// The protocol setting this mode names with a timer of `seconds` (a zero timer is off, as
    /// in Session clients).
    pub fn setting(self, seconds: i64) -> Disappearing {
        let seconds = u32::try_from(seconds).unwrap_or(u32::MAX);
        match self {
            Self::Off => Disappearing::Off,
            Self::AfterSend => Disappearing::after_send(seconds),
            Self::AfterRead => Disappearing::after_read(seconds),
        }
    }
}

/// The mode of a protocol setting (its timer is [`Disappearing::seconds`]).
impl From<Disappearing> for ExpireMode {
    fn from(setting: Disappearing) -> Self {
        match setting {
            Disappearing::Off => Self::Off,
            Disappearing::AfterSend { .. } => Self::AfterSend,
            Disappearing::AfterRead { .. } => Self::AfterRead,
        }
    }
}

/// A new conversation is accepted (the column's default).
impl Default for ConversationState {
    fn default() -> Self {
        Self::Accepted
    }
}

/// Messages do not disappear unless set (the column's default).
impl Default for ExpireMode {
    fn default() -> Self {
        Self::Off
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_serde_uses_them() {
        for kind in [
            MessageKind::Text,
            MessageKind::Reaction,
            MessageKind::Unsend,
            MessageKind::ReadReceipt,
            MessageKind::Typing,
            MessageKind::RequestResponse,
            MessageKind::ExpirationUpdate,
        ] {
            assert_eq!(MessageKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(MessageRequests::parse("hold"), Some(MessageRequests::Hold));
        assert_eq!(ExpireMode::AfterRead.as_str(), "after_read");
        assert_eq!(ConversationState::Declined.to_string(), "declined");
    }

    #[test]
    fn expire_modes_match_the_protocol_settings() {
        for setting in [
            Disappearing::Off,
            Disappearing::after_send(30),
            Disappearing::after_read(60),
        ] {
            let mode = ExpireMode::from(setting);
            assert_eq!(mode.as_str(), setting.mode());
            assert_eq!(mode.setting(i64::from(setting.seconds())), setting);
        }
        assert_eq!(ExpireMode::AfterSend.setting(0), Disappearing::Off);
        assert_eq!(ExpireMode::Off.setting(30), Disappearing::Off);
    }

    #[test]
    fn an_unknown_word_is_corrupt_not_a_panic() {
        assert_eq!(ReadReceipts::parse("sometimes"), None);
        assert!(matches!(
            ExpireMode::from_column("disappearing_mode", "soon"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
