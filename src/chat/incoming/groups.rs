//! What arrives in a group: a member's message, reaction or unsend (filed under the group, with
//! the member as author), and a member leaving; and, 1:1, an invitation to a group.

use super::{Accepted, Ctx, Standing};
use crate::chat::ChatError;
use crate::events::EventData;
use crate::protocol::chat::{ChatEvent, GroupInvite};
use crate::store::modes::GroupState;
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

    /// A verified invitation (1:1) to a group.
    pub(super) async fn group_invite(
        &self,
        tx: &mut StoreTx,
        invite: &GroupInvite,
    ) -> Result<(), ChatError> {
        let events = crate::chat::groups::receive_invite(
            tx,
            self.store,
            self.account,
            self.sender,
            invite,
            self.now,
        )
        .await?;
        for data in events {
            self.event(tx, &invite.group, data).await?;
        }
        Ok(())
    }
}
