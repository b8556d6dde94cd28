//! What arrives in a group: a member's message, reaction or unsend (filed under the group, with
//! the member as author), and a member leaving; and, 1:1, an invitation to a group.

use super::{Accepted, Ctx, Standing};
use crate::chat::groups::admin;
use crate::chat::ChatError;
use crate::events::{EventData, EventType};
use crate::protocol::chat::{ChatEvent, GroupInvite};
use crate::store::modes::{GroupRole, GroupState};
use crate::store::StoreTx;

impl Ctx<'_> {
    /// A verified group message for a local member; nothing unless the account has joined.
    pub(super) async fn group_message(
        &self,
        tx: &mut StoreTx,
        a: &Accepted,
    ) -> Result<usize, ChatError> {
        let joined = tx
            .membership(self.account, self.peer)
            .await?
            .is_some_and(|m| m.state == GroupState::Joined);
        if !joined {
            return Ok(0);
        }
        let standing = if self.sender == self.account {
            Standing::Own
        } else {
            Standing::Accepted
        };
        let mut stored = 0;
        for event in &a.events {
            match event {
                ChatEvent::Message(m) => stored += self.message(tx, a, standing, m).await?,
                ChatEvent::ReactionAdded { target, emoji, .. } => {
                    self.reaction(tx, target, emoji, false).await?;
                }
                ChatEvent::ReactionRemoved { target, emoji, .. } => {
                    self.reaction(tx, target, emoji, true).await?;
                }
                ChatEvent::Unsend { target } => self.unsend(tx, target).await?,
                ChatEvent::GroupDeleteContent {
                    members,
                    hashes,
                    admin_signature,
                } => {
                    // The group source kept it only with a valid signature, or none.
                    let (authors, hashes) = if admin_signature.is_some() {
                        (members.clone(), hashes.clone())
                    } else {
                        (Vec::new(), hashes.clone())
                    };
                    self.delete_content(tx, &authors, &hashes, admin_signature.is_none())
                        .await?;
                }
                ChatEvent::GroupInviteResponse { approved: true } if standing != Standing::Own => {
                    // An admin marks the member joined in the members config (§6.1 step 4).
                    let admin = tx
                        .membership(self.account, self.peer)
                        .await?
                        .is_some_and(|m| m.role == GroupRole::Admin);
                    if admin {
                        let joined = vec![self.sender.to_owned()];
                        admin::queue_sync(tx, self.account, self.peer, joined, self.now).await?;
                    }
                }
                ChatEvent::GroupMemberLeft if standing != Standing::Own => {
                    let data = EventData::group_member(false, self.peer, self.sender);
                    self.event(tx, self.peer, data).await?;
                }
                // Receipts, typing, profiles and the rest mean nothing in a group here; an
                // admin's bookkeeping of answered invitations is group administration.
                _ => {}
            }
        }
        Ok(stored)
    }

    /// Deletes this account's messages in the group written by `authors` or stored under
    /// `hashes`; `senders_only` limits it to the sender's own messages (an unsigned request).
    async fn delete_content(
        &self,
        tx: &mut StoreTx,
        authors: &[String],
        hashes: &[String],
        senders_only: bool,
    ) -> Result<(), ChatError> {
        let found = tx
            .group_messages_matching(self.account, self.peer, authors, hashes)
            .await?;
        for message in found {
            if senders_only && message.from != self.sender {
                continue;
            }
            if tx.mark_deleted(&message.id, self.now).await? {
                let data =
                    EventData::message_deleted(self.peer, &message.id, "everyone", self.sender);
                self.event(tx, self.peer, data).await?;
            }
        }
        Ok(())
    }

    /// A promotion (1:1) to admin of a group the account is in: it keeps the seed and signs
    /// for the group as an admin from now on (`group.member_promoted` naming itself). A
    /// promotion to a group we are not in is ignored.
    pub(super) async fn group_promoted(
        &self,
        tx: &mut StoreTx,
        secret: &crate::protocol::groups::GroupSecret,
    ) -> Result<(), ChatError> {
        let group = secret.id().to_string();
        let Some(held) = tx.membership(self.account, &group).await? else {
            return Ok(());
        };
        if held.role == GroupRole::Admin
            || !matches!(held.state, GroupState::Joined | GroupState::Invited)
        {
            return Ok(());
        }
        let seed = secret.seed().expose_secret();
        tx.set_membership_role(
            self.store,
            self.account,
            &group,
            GroupRole::Admin,
            seed,
            self.now,
        )
        .await?;
        // As an admin now, mark the promotion accepted in the members config (§6.4).
        let own = vec![self.account.to_owned()];
        admin::queue_sync(tx, self.account, &group, own, self.now).await?;
        let data =
            EventData::group_member_event(EventType::GroupMemberPromoted, &group, self.account);
        self.event(tx, &group, data).await
    }

    /// A verified invitation (1:1) to a group.
    pub(super) async fn group_invite(
        &self,
        tx: &mut StoreTx,
        invite: &GroupInvite,
        sent: i64,
    ) -> Result<(), ChatError> {
        let events = crate::chat::groups::receive_invite(
            tx,
            self.store,
            self.account,
            self.sender,
            invite,
            sent,
            self.now,
        )
        .await?;
        for data in events {
            self.event(tx, &invite.group, data).await?;
        }
        Ok(())
    }
}
