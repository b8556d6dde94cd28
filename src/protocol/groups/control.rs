//! Group control messages (`DataMessage.groupUpdateMessage`, field 120) and their admin
//! signatures: groups.md §6, messages.md §6.2. Schema: `proto/SessionProtos.proto`, which
//! matches LSU `proto/SessionProtos.proto` @ `015af4a7` for every `GroupUpdate*` message.
//!
//! Admin signatures are Ed25519 by the group key over ASCII strings, checked against the group
//! key (no `03`); `ts` is the message's sent timestamp in ms, as decimal
//! (DESKTOP `groupSignature.ts`, `handleGroupV2Message.ts`):
//!
//! | Message | Signed string |
//! |---|---|
//! | Invite (1:1, ns 0) | `"INVITE" ‖ invitee Session ID (hex) ‖ ts` |
//! | InfoChange | `"INFO_CHANGE" ‖ type (decimal) ‖ ts` |
//! | MemberChange | `"MEMBER_CHANGE" ‖ type (decimal) ‖ ts` |
//! | DeleteMemberContent | `"DELETE_CONTENT" ‖ ts ‖ concat(memberSessionIds) ‖ concat(messageHashes)` |
//!
//! Promote carries the group seed itself; InviteResponse, MemberLeft and MemberLeftNotification
//! carry no admin signature (the group-message signature names their author). A
//! DeleteMemberContent without `adminSignature` may only delete the sender's own messages.

use crate::protocol::groups::subaccount::MemberAuthData;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{Ed25519PublicKey, IdPrefix, PrefixedId, Seed, SessionId};
use crate::protocol::protos::{
    group_update_info_change_message as info_change,
    group_update_member_change_message as member_change, Content, DataMessage,
    GroupUpdateDeleteMemberContentMessage, GroupUpdateInfoChangeMessage, GroupUpdateInviteMessage,
    GroupUpdateInviteResponseMessage, GroupUpdateMemberChangeMessage, GroupUpdateMemberLeftMessage,
    GroupUpdateMemberLeftNotificationMessage, GroupUpdateMessage, GroupUpdatePromoteMessage,
};
use crate::protocol::storage::SubaccountFlags;

pub use info_change::Type as InfoChangeType;
pub use member_change::Type as MemberChangeType;

/// Why a control message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// `groupSessionId` is not `03` + 64 hex characters.
    #[error("invite names no valid 03 group ID")]
    BadGroupId,
    /// `memberAuthData` is not 100 bytes, or is not a grant for us by this group.
    #[error("invite carries no valid memberAuthData")]
    BadAuthData,
    /// `adminSignature` is absent or not 64 bytes.
    #[error("admin signature missing or malformed")]
    MissingSignature,
    /// The admin signature does not verify with the group key.
    #[error("admin signature does not verify")]
    BadSignature,
    /// `groupIdentitySeed` is not 32 bytes.
    #[error("promote carries no 32-byte group seed")]
    BadSeed,
    /// The promote's seed is not the key of the group it claims to be for.
    #[error("promote seed is for another group")]
    WrongGroup,
}

/// `"INVITE" ‖ invitee ‖ ts`.
pub fn invite_signed_text(invitee: &SessionId, timestamp_ms: u64) -> Vec<u8> {
    format!("INVITE{invitee}{timestamp_ms}").into_bytes()
}

/// `"INFO_CHANGE" ‖ type ‖ ts`.
pub fn info_change_signed_text(kind: i32, timestamp_ms: u64) -> Vec<u8> {
    format!("INFO_CHANGE{kind}{timestamp_ms}").into_bytes()
}

/// `"MEMBER_CHANGE" ‖ type ‖ ts`.
pub fn member_change_signed_text(kind: i32, timestamp_ms: u64) -> Vec<u8> {
    format!("MEMBER_CHANGE{kind}{timestamp_ms}").into_bytes()
}

/// `"DELETE_CONTENT" ‖ ts ‖ concat(member IDs) ‖ concat(message hashes)`.
pub fn delete_content_signed_text(
    timestamp_ms: u64,
    member_session_ids: &[String],
    message_hashes: &[String],
) -> Vec<u8> {
    let mut text = format!("DELETE_CONTENT{timestamp_ms}");
    member_session_ids.iter().for_each(|id| text.push_str(id));
    message_hashes.iter().for_each(|h| text.push_str(h));
    text.into_bytes()
}

fn verify_admin(
    group: &Ed25519PublicKey,
    signature: &[u8],
    text: &[u8],
) -> Result<(), ControlError> {
    let signature: &[u8; 64] = signature
        .try_into()
        .map_err(|_| ControlError::MissingSignature)?;
    group
        .verify(text, signature)
        .map_err(|_| ControlError::BadSignature)
}

/// The control message as a Content to send (ns 0 for invites and promotions, ns 11 otherwise).
pub fn control_content(update: GroupUpdateMessage) -> Content {
    Content {
        data_message: Some(DataMessage {
            group_update_message: Some(update),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An invite for `invitee` (§6.2 step 4): the group ID, name, the invitee's grant and the
/// admin signature over `"INVITE" ‖ invitee ‖ ts`.
pub fn invite(
    group: &GroupSecret,
    name: &str,
    invitee: &SessionId,
    auth: &MemberAuthData,
    timestamp_ms: u64,
) -> GroupUpdateMessage {
    GroupUpdateMessage {
        invite_message: Some(GroupUpdateInviteMessage {
            group_session_id: group.id().to_string(),
            name: name.to_owned(),
            member_auth_data: auth.as_bytes().to_vec(),
            admin_signature: group
                .sign(&invite_signed_text(invitee, timestamp_ms))
                .to_vec(),
        }),
        ..Default::default()
    }
}

/// A checked invite (§6.1 step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedInvite {
    /// The group's Ed25519 key (its ID without `03`).
    pub group: Ed25519PublicKey,
    /// The group name the inviter sent.
    pub name: String,
    /// Our grant to the group swarm.
    pub auth: MemberAuthData,
}

/// Checks an invite received by `own` (Session ID and Ed25519 key) at sent time `timestamp_ms`:
/// the admin signature over `"INVITE" ‖ own ‖ ts`, and that the grant is a valid read/write
/// subaccount for us (`swarm_verify_subaccount`), since a grant that fails is of no use.
pub fn verify_invite(
    message: &GroupUpdateInviteMessage,
    own: &SessionId,
    own_ed25519: &Ed25519PublicKey,
    timestamp_ms: u64,
) -> Result<VerifiedInvite, ControlError> {
    let group = parse_group_id(&message.group_session_id)?;
    verify_admin(
        &group,
        &message.admin_signature,
        &invite_signed_text(own, timestamp_ms),
    )?;
    let auth = MemberAuthData::try_from(message.member_auth_data.as_slice())
        .map_err(|_| ControlError::BadAuthData)?;
    auth.verify(&group, own_ed25519, SubaccountFlags::READ)
        .map_err(|_| ControlError::BadAuthData)?;
    Ok(VerifiedInvite {
        group,
        name: message.name.clone(),
        auth,
    })
}

/// The group key of a `03` ID in hex.
pub fn parse_group_id(text: &str) -> Result<Ed25519PublicKey, ControlError> {
    let id: PrefixedId = text.parse().map_err(|_| ControlError::BadGroupId)?;
    let id = id
        .expect_prefix(IdPrefix::Group)
        .map_err(|_| ControlError::BadGroupId)?;
    let bytes = id.to_bytes();
    let key: [u8; 32] = bytes[1..]
        .try_into()
        .map_err(|_| ControlError::BadGroupId)?;
    Ok(Ed25519PublicKey::from_bytes(key))
}

/// A promotion (§6.4): the group seed and name, sent 1:1.
pub fn promote(group: &GroupSecret, name: &str) -> GroupUpdateMessage {
    GroupUpdateMessage {
        promote_message: Some(GroupUpdatePromoteMessage {
            group_identity_seed: group.seed().expose_secret().to_vec(),
            name: name.to_owned(),
        }),
        ..Default::default()
    }
}

/// The group secret a promotion hands over. When `expected` is given (a group we are already
/// in), the seed must be that group's.
pub fn accept_promote(
    message: &GroupUpdatePromoteMessage,
    expected: Option<&Ed25519PublicKey>,
) -> Result<GroupSecret, ControlError> {
    let seed: [u8; 32] = message
        .group_identity_seed
        .as_slice()
        .try_into()
        .map_err(|_| ControlError::BadSeed)?;
    let secret = GroupSecret::from_seed(Seed::from_bytes(seed));
    match expected {
        Some(group) if *group != secret.public() => Err(ControlError::WrongGroup),
        _ => Ok(secret),
    }
}

/// What an info change announces (§6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoChange {
    /// The new name.
    Name(String),
    /// The avatar changed (the picture itself is in the info config).
    Avatar,
    /// The new disappearing-messages timer, seconds.
    DisappearingMessages(u32),
}

/// An info change notice for ns 11, signed by the admin.
pub fn info_change(
    group: &GroupSecret,
    change: &InfoChange,
    timestamp_ms: u64,
) -> GroupUpdateMessage {
    let (kind, name, expiration) = match change {
        InfoChange::Name(name) => (InfoChangeType::Name, Some(name.clone()), None),
        InfoChange::Avatar => (InfoChangeType::Avatar, None, None),
        InfoChange::DisappearingMessages(secs) => {
            (InfoChangeType::DisappearingMessages, None, Some(*secs))
        }
    };
    GroupUpdateMessage {
        info_change_message: Some(GroupUpdateInfoChangeMessage {
            r#type: kind as i32,
            updated_name: name,
            updated_expiration: expiration,
            admin_signature: group
                .sign(&info_change_signed_text(kind as i32, timestamp_ms))
                .to_vec(),
        }),
        ..Default::default()
    }
}

/// Checks an info change's admin signature.
pub fn verify_info_change(
    message: &GroupUpdateInfoChangeMessage,
    group: &Ed25519PublicKey,
    timestamp_ms: u64,
) -> Result<(), ControlError> {
    verify_admin(
        group,
        &message.admin_signature,
        &info_change_signed_text(message.r#type, timestamp_ms),
    )
}

/// A member change notice for ns 11 (§6.2 step 5, §6.3 step 4, §6.4), signed by the admin.
pub fn member_change(
    group: &GroupSecret,
    kind: MemberChangeType,
    members: &[SessionId],
    history_shared: Option<bool>,
    timestamp_ms: u64,
) -> GroupUpdateMessage {
    GroupUpdateMessage {
        member_change_message: Some(GroupUpdateMemberChangeMessage {
            r#type: kind as i32,
            member_session_ids: members.iter().map(ToString::to_string).collect(),
            history_shared,
            admin_signature: group
                .sign(&member_change_signed_text(kind as i32, timestamp_ms))
                .to_vec(),
        }),
        ..Default::default()
    }
}

/// Checks a member change's admin signature.
pub fn verify_member_change(
    message: &GroupUpdateMemberChangeMessage,
    group: &Ed25519PublicKey,
    timestamp_ms: u64,
) -> Result<(), ControlError> {
    verify_admin(
        group,
        &message.admin_signature,
        &member_change_signed_text(message.r#type, timestamp_ms),
    )
}

/// A request to delete members' messages (§6.3): admin-signed when `admin` is given, otherwise
/// a member deleting its own messages by hash.
pub fn delete_member_content(
    admin: Option<&GroupSecret>,
    members: &[SessionId],
    message_hashes: &[String],
    timestamp_ms: u64,
) -> GroupUpdateMessage {
    let member_session_ids: Vec<String> = members.iter().map(ToString::to_string).collect();
    let admin_signature = admin.map(|group| {
        group
            .sign(&delete_content_signed_text(
                timestamp_ms,
                &member_session_ids,
                message_hashes,
            ))
            .to_vec()
    });
    GroupUpdateMessage {
        delete_member_content: Some(GroupUpdateDeleteMemberContentMessage {
            member_session_ids,
            message_hashes: message_hashes.to_vec(),
            admin_signature,
        }),
        ..Default::default()
    }
}

/// Whose messages a delete request may remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteAuthority {
    /// Admin-signed: the listed members' messages and the listed hashes.
    Admin,
    /// Unsigned: only the listed hashes whose author is the request's sender.
    SenderOnly,
}

/// Checks a delete request: a present signature must verify; an absent one limits it to the
/// sender's own messages.
pub fn verify_delete_member_content(
    message: &GroupUpdateDeleteMemberContentMessage,
    group: &Ed25519PublicKey,
    timestamp_ms: u64,
) -> Result<DeleteAuthority, ControlError> {
    match &message.admin_signature {
        None => Ok(DeleteAuthority::SenderOnly),
        Some(signature) => verify_admin(
            group,
            signature,
            &delete_content_signed_text(
                timestamp_ms,
                &message.member_session_ids,
                &message.message_hashes,
            ),
        )
        .map(|()| DeleteAuthority::Admin),
    }
}

/// An invitee's answer, posted to the group (§6.1 step 4).
pub fn invite_response(approved: bool) -> GroupUpdateMessage {
    GroupUpdateMessage {
        invite_response: Some(GroupUpdateInviteResponseMessage {
            is_approved: approved,
        }),
        ..Default::default()
    }
}

/// "I am leaving" (§6.5), sent after [`member_left_notification`] with `ts + 1`.
pub fn member_left() -> GroupUpdateMessage {
    GroupUpdateMessage {
        member_left_message: Some(GroupUpdateMemberLeftMessage {}),
        ..Default::default()
    }
}

/// The displayed notice of leaving (§6.5).
pub fn member_left_notification() -> GroupUpdateMessage {
    GroupUpdateMessage {
        member_left_notification_message: Some(GroupUpdateMemberLeftNotificationMessage {}),
        ..Default::default()
    }
}
