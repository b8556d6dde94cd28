//! Control messages: what an outgoing `messages` row whose `kind` is not `text` asks the sender
//! to build ([`ControlBody`], stored as JSON in the row's `body`). They wait in the same
//! per-conversation queue as the text messages (oldest first, so a reaction queued after its
//! message is sent after it) and never appear in history; [`super::chat`] queues them.

use serde::{Deserialize, Serialize};

use super::communities::RoomAction;
use super::modes::{ExpireMode, MessageKind};

/// What an outgoing control row asks the sender to build (stored as JSON in `body`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ControlBody {
    /// Add or remove a reaction on the message sent at `target_ts` by `target_author`.
    Reaction {
        /// The target's sent timestamp, ms.
        target_ts: i64,
        /// The target's author.
        target_author: String,
        /// The emoji.
        emoji: String,
        /// True to remove it.
        remove: bool,
    },
    /// Unsend our message sent at `target_ts`; `own_hash` is its copy on our swarm.
    Unsend {
        /// The target's sent timestamp, ms.
        target_ts: i64,
        /// The copy's hash on our own swarm, deleted with it.
        own_hash: Option<String>,
    },
    /// A read receipt for these sent timestamps.
    ReadReceipt {
        /// Sent timestamps, ms.
        timestamps: Vec<i64>,
    },
    /// Typing started or stopped.
    Typing {
        /// True when started.
        typing: bool,
    },
    /// A message-request acceptance (with our profile).
    RequestResponse,
    /// The conversation's new disappearing setting.
    ExpirationUpdate {
        /// The new mode.
        mode: ExpireMode,
        /// Timer, seconds.
        seconds: i64,
    },
    /// Admin, in a group conversation: store these ready-made payloads on the group swarm
    /// (keys first), admin-signed (groups.md §6.2 step 3). They are encrypted already (keys
    /// for the members, configs with the group key), so the row holds no secret, and a retry
    /// stores the same bytes (same hashes).
    GroupPush {
        /// `(namespace, base64 payload)`, in store order.
        payloads: Vec<(i16, String)>,
    },
    /// Admin, in the direct conversation with the invitee: the invitation to `group`
    /// (`GroupUpdateInviteMessage`, §6.2 step 4), its grant and signature made at send time
    /// from the sealed group seed.
    GroupInvite {
        /// The 03… ID.
        group: String,
    },
    /// Member, in a group conversation: we accept the invitation (§6.1 step 4).
    GroupInviteResponse,
    /// Member, in a group conversation: we leave (§6.5: the notification, then MemberLeft).
    GroupLeave,
    /// Admin, in a group conversation: one administrative step on the group swarm, built at
    /// send time from the sealed group seed (its admin signatures, kicked notice and tokens).
    GroupAdmin {
        /// What to do.
        step: GroupAdminStep,
    },
    /// Admin, in the direct conversation with a member: its promotion (the group seed and
    /// name, §6.4), built at send time from the sealed group seed.
    GroupPromote {
        /// The 03… ID.
        group: String,
    },
    /// In the conversation with ourselves: store these ready-made config messages on our own
    /// swarm (groups.md §1.3), signed as the account; today the UserGroups config (§3.3). Like
    /// [`Self::GroupPush`] they are encrypted already (with a key from the account's seed), and
    /// a retry stores the same bytes.
    UserConfigPush {
        /// `(namespace, base64 payload)`, in store order.
        payloads: Vec<(i16, String)>,
    },
    /// In a community room: one moderation step on the server (communities.md §4.5, §7).
    RoomModeration {
        /// What to do.
        action: RoomAction,
    },
}

/// An admin's step on the group swarm (groups.md §6.3, §6.4, §6.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum GroupAdminStep {
    /// Members removed (§6.3): the kicked notice (namespace −11, at `generation`, the key
    /// generation they last held), their subaccount tokens revoked, the REMOVED notice, and
    /// with `delete_messages` the request that members delete their messages.
    Remove {
        /// Session IDs removed.
        members: Vec<String>,
        /// The key generation before the rekey that excludes them.
        generation: u64,
        /// Also delete their messages (DeleteMemberContent).
        delete_messages: bool,
        /// With `delete_messages`: the swarm hashes of their messages known here, deleted from
        /// the swarm by the admin.
        #[serde(default)]
        hashes: Vec<String>,
    },
    /// Members promoted to admin: the PROMOTED notice (§6.4).
    Promoted {
        /// Session IDs promoted.
        members: Vec<String>,
    },
    /// The name, picture or disappearing timer changed: the INFO_CHANGE notices (§6.6).
    InfoChanged {
        /// The new name.
        name: Option<String>,
        /// The new timer, seconds (0 = off).
        disappearing_seconds: Option<u32>,
        /// The picture changed.
        #[serde(default)]
        avatar: bool,
    },
    /// The configs an admin republishes after a poll, computed at send time from the configs
    /// then held: the merge of heads other admins pushed concurrently (§1.2), and the members
    /// who answered their invitation marked joined (§6.1 step 4), and a promoted admin's own
    /// promotion marked accepted (§6.4).
    SyncConfigs {
        /// Members whose invitation answer arrived, or the promoted admin itself.
        joined: Vec<String>,
    },
    /// Messages deleted by an admin: DeleteMemberContent with these hashes, and the messages
    /// deleted from the swarm.
    DeleteContent {
        /// Swarm hashes (namespace 11).
        hashes: Vec<String>,
    },
}

impl ControlBody {
    /// The `kind` column value.
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Reaction { .. } => MessageKind::Reaction,
            Self::Unsend { .. } => MessageKind::Unsend,
            Self::ReadReceipt { .. } => MessageKind::ReadReceipt,
            Self::Typing { .. } => MessageKind::Typing,
            Self::RequestResponse => MessageKind::RequestResponse,
            Self::ExpirationUpdate { .. } => MessageKind::ExpirationUpdate,
            Self::GroupPush { .. } => MessageKind::GroupPush,
            Self::GroupInvite { .. } => MessageKind::GroupInvite,
            Self::GroupInviteResponse => MessageKind::GroupInviteResponse,
            Self::GroupLeave => MessageKind::GroupLeave,
            Self::GroupAdmin { .. } => MessageKind::GroupAdmin,
            Self::GroupPromote { .. } => MessageKind::GroupPromote,
            Self::UserConfigPush { .. } => MessageKind::UserConfigPush,
            Self::RoomModeration { .. } => MessageKind::RoomModeration,
        }
    }
}
