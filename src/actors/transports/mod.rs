//! Transports: how a conversation's messages leave (design.md §10). The send queue around them
//! is written once ([`super::outgoing`]: the queue order, retries with back-off, the send
//! deadline, and settling `sent`/`failed` with its event in one transaction); a transport only
//! carries one queued row to the network and says what it stored ([`Stored`]).
//!
//! Today there is one, [`DirectTransport`] (a `Direct` conversation): sealed to the recipient's
//! swarm plus the sync copy on our own. A group's transport will encrypt for the group and store
//! on the group swarm; a community's will sign (blinded) and POST to the server. Each is picked
//! from the conversation's [`crate::ids::ConversationId`] in [`super::outgoing::step`].

use std::future::Future;

use super::keys::AccountKeys;
use super::outgoing::build_outgoing;
use super::{ActorError, Deps};
use crate::clock::now_ms;
use crate::protocol::chat::Outgoing;
use crate::store::send_queue::QueuedMessage;

pub mod community;
pub mod direct;
pub mod group;

pub use community::{BlindedDmTransport, CommunityTransport};
pub use direct::{seal, DirectTransport};
pub use group::GroupTransport;

/// What sending one queued row stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The recipient swarm's hash (`None`: nothing was sent, e.g. a stale typing indicator).
    pub hash: Option<String>,
    /// The own-swarm copy's hash, when one was stored.
    pub own_hash: Option<String>,
}

/// How a message leaves; see the module doc.
pub trait Transport {
    /// Sends `message` from `keys`' account once (no retry: the queue retries) and returns the
    /// hashes it stored.
    fn send(
        &self,
        deps: &Deps,
        keys: &AccountKeys,
        message: &QueuedMessage,
    ) -> impl Future<Output = Result<Stored, ActorError>> + Send;
}

/// The Content of a queued row as every transport sends it ([`build_outgoing`]), with our
/// profile as clients send it (display name, avatar URL and key; messages.md §4) and, for a
/// text message, its files uploaded once (a retry reuses the stored pointers). `None`: nothing
/// to send (a stale typing indicator).
pub async fn outgoing_of(
    deps: &Deps,
    keys: &AccountKeys,
    message: &QueuedMessage,
) -> Result<Option<Outgoing>, ActorError> {
    let attachments = match message.control {
        None if message.has_files => {
            crate::actors::attachments::outgoing_pointers(deps, message).await?
        }
        _ => Vec::new(),
    };
    outgoing_with(deps, keys, message, attachments).await
}

/// [`outgoing_of`] with the files' pointers made by the caller (a room's files live on the
/// room's server).
pub async fn outgoing_with(
    deps: &Deps,
    keys: &AccountKeys,
    message: &QueuedMessage,
    attachments: Vec<crate::protocol::chat::pointer::AttachmentInfo>,
) -> Result<Option<Outgoing>, ActorError> {
    let profile = deps.store.own_profile(&keys.session_id).await?;
    let profile = (profile.display_name.is_some() || profile.avatar.is_some()).then_some(profile);
    let now = u64::try_from(now_ms()).unwrap_or(0);
    build_outgoing(message, profile.as_ref(), attachments, now)
}

/// The transport of a conversation kind that has none yet (groups, communities): every row
/// fails for good with [`ActorError::BadRecipient`], as a row to an unusable ID always has.
#[derive(Clone, Copy, Debug)]
pub struct Unroutable;

impl Transport for Unroutable {
    async fn send(
        &self,
        _: &Deps,
        _: &AccountKeys,
        _: &QueuedMessage,
    ) -> Result<Stored, ActorError> {
        Err(ActorError::BadRecipient)
    }
}
