//! Community transports (communities.md §4.5, §4.7, §6, §7): a room's posts are the padded
//! `Content`, blind15-signed and POSTed to the server; a reaction is a `PUT`/`DELETE` on the
//! post's reaction path, our unsend a `DELETE` of our post, a moderator's step its server call.
//! A DM to a blinded ID (`15…`) is encrypted to it with the blinded scheme (§6) and POSTed to
//! its server's inbox. Rooms and blinded DMs have no receipts, typing or disappearing
//! settings: such rows leave nothing.
//!
//! A post retried after a lost answer may appear twice (the server gives each post a new id;
//! SOGS has no idempotency key), as it would from any client.

use prost::Message as _;

use super::{outgoing_of, outgoing_with, Stored, Transport};
use crate::actors::keys::AccountKeys;
use crate::actors::sources::community::{server_at, server_of};
use crate::actors::{ActorError, Deps};
use crate::chat::incoming::{room_message_hash, room_message_id};
use crate::ids::{RoomRef, SessionIdText};
use crate::network::community::{BanScope, CommunityServer};
use crate::protocol::blinding::{encrypt_for_blinded_recipient, Blind15Nonce, BlindedId};
use crate::protocol::community::CommunityPost;
use crate::store::chat::{ControlBody, RoomAction};
use crate::store::communities::CommunityRoom;
use crate::store::send_queue::QueuedMessage;

/// Nothing left for this row (a kind rooms do not have).
const NOTHING: Stored = Stored {
    hash: None,
    own_hash: None,
};

/// Sends to one community room.
#[derive(Clone, Debug)]
pub struct CommunityTransport {
    room: RoomRef,
}

impl CommunityTransport {
    /// The transport of `room`'s conversation.
    pub fn new(room: RoomRef) -> Self {
        Self { room }
    }
}

impl Transport for CommunityTransport {
    async fn send(
        &self,
        deps: &Deps,
        keys: &AccountKeys,
        message: &QueuedMessage,
    ) -> Result<Stored, ActorError> {
        let room_text = self.room.to_string();
        let room = deps
            .store
            .community_room(&room_text)
            .await?
            .ok_or(ActorError::BadRecipient)?;
        let member = deps
            .store
            .room_membership(&keys.session_id, &room_text)
            .await?
            .ok_or(ActorError::BadRecipient)?;
        let server = server_of(&room)?;
        let network = &deps.network;
        let identity = &keys.identity;
        let token = room.token.as_str();
        match &message.control {
            None => post(deps, keys, &server, &room, message).await,
            Some(ControlBody::Reaction {
                target_ts,
                target_author,
                emoji,
                remove,
            }) => {
                let id = server_id(deps, keys, &room, *target_ts, target_author).await?;
                network
                    .community_react(&server, identity, token, id, emoji, *remove)
                    .await?;
                Ok(NOTHING)
            }
            Some(ControlBody::Unsend { target_ts, .. }) => {
                let id = server_id(deps, keys, &room, *target_ts, &member.blinded_id).await?;
                network
                    .community_delete(&server, identity, token, id)
                    .await?;
                Ok(NOTHING)
            }
            Some(ControlBody::RoomModeration { action }) => {
                moderate(deps, keys, &server, &room, action).await?;
                Ok(NOTHING)
            }
            Some(_) => Ok(NOTHING),
        }
    }
}

/// Posts a queued text (§4.5) and returns the post's key as its hash.
async fn post(
    deps: &Deps,
    keys: &AccountKeys,
    server: &CommunityServer,
    room: &CommunityRoom,
    message: &QueuedMessage,
) -> Result<Stored, ActorError> {
    let (pointers, files) =
        crate::actors::attachments::room_pointers(deps, keys, server, room, message).await?;
    // A quote names its author by blinded ID in a room, which a 1:1 quote cannot carry: the
    // reply goes out without it rather than not at all.
    let mut message = message.clone();
    if message
        .quote
        .as_ref()
        .is_some_and(|(_, author)| !author.starts_with("05"))
    {
        message.quote = None;
    }
    let Some(outgoing) = outgoing_with(deps, keys, &message, pointers).await? else {
        return Ok(NOTHING);
    };
    // Receivers need `sigTimestamp` (§4.5); the post is padded and signed as it goes.
    let mut content = outgoing.content().clone();
    content.sig_timestamp = Some(outgoing.sent_ms());
    let post = CommunityPost::new(
        &keys.identity,
        server.pubkey(),
        &content.encode_to_vec(),
        outgoing.sent_ms(),
        Blind15Nonce::Desktop,
    );
    let posted = deps
        .network
        .community_post(server, &keys.identity, &room.token, &post, &files)
        .await?;
    Ok(Stored {
        hash: Some(room_message_hash(&room.room, posted.id)),
        own_hash: None,
    })
}

/// The server id of the account's copy of the post sent at `ts` by `author` in `room`.
async fn server_id(
    deps: &Deps,
    keys: &AccountKeys,
    room: &CommunityRoom,
    ts: i64,
    author: &str,
) -> Result<i64, ActorError> {
    let mut tx = deps.store.begin().await?;
    let found = tx
        .find_by_ref(&keys.session_id, &room.room, ts, author)
        .await?;
    tx.commit().await?;
    found
        .and_then(|m| m.hash)
        .and_then(|hash| room_message_id(&room.room, &hash))
        .ok_or_else(|| ActorError::Community("the post is not on the server (yet)".into()))
}

/// A moderator's step (§4.5, §7).
async fn moderate(
    deps: &Deps,
    keys: &AccountKeys,
    server: &CommunityServer,
    room: &CommunityRoom,
    action: &RoomAction,
) -> Result<(), ActorError> {
    let network = &deps.network;
    let identity = &keys.identity;
    let token = room.token.as_str();
    let rooms = BanScope::Rooms(vec![room.token.clone()]);
    match action {
        RoomAction::Delete { message_id } => {
            network
                .community_delete(server, identity, token, *message_id)
                .await?
        }
        RoomAction::Ban {
            user,
            timeout_seconds,
        } => {
            network
                .community_ban(server, identity, user, &rooms, true, *timeout_seconds)
                .await?
        }
        RoomAction::Unban { user } => {
            network
                .community_ban(server, identity, user, &rooms, false, None)
                .await?
        }
        RoomAction::DeleteAll { user } => {
            network
                .community_delete_all(server, identity, token, user)
                .await?
        }
    }
    Ok(())
}

/// Sends to a blinded ID through its server's inbox.
#[derive(Clone, Debug)]
pub struct BlindedDmTransport {
    peer: SessionIdText,
}

impl BlindedDmTransport {
    /// The transport of the direct conversation with the blinded `peer`.
    pub fn new(peer: SessionIdText) -> Self {
        Self { peer }
    }
}

impl Transport for BlindedDmTransport {
    async fn send(
        &self,
        deps: &Deps,
        keys: &AccountKeys,
        message: &QueuedMessage,
    ) -> Result<Stored, ActorError> {
        // Only visible messages travel as blinded DMs (Desktop sends no receipts or typing).
        if message.control.is_some() {
            return Ok(NOTHING);
        }
        let peer = self.peer.as_str();
        let recipient: BlindedId = peer.parse().map_err(|_| ActorError::BadRecipient)?;
        let known = deps
            .store
            .blinded_peer(&keys.session_id, peer)
            .await?
            .ok_or(ActorError::BadRecipient)?;
        // A stored key that does not read is a recipient this row can never reach.
        let server = server_at(&known.server, &known.server_key).map_err(|e| match e {
            ActorError::Community(_) => ActorError::BadRecipient,
            other => other,
        })?;
        let Some(outgoing) = outgoing_of(deps, keys, message).await? else {
            return Ok(NOTHING);
        };
        let sent_ms = outgoing.sent_ms();
        let content = outgoing.into_content();
        let ciphertext = encrypt_for_blinded_recipient(
            &keys.identity,
            server.pubkey(),
            &recipient,
            content.padded(),
            &mut rand::rngs::OsRng,
        )
        .map_err(|e| ActorError::Community(e.to_string()))?;
        let id = deps
            .network
            .community_send_dm(&server, &keys.identity, peer, &ciphertext, sent_ms)
            .await?;
        Ok(Stored {
            hash: Some(format!("sogs-dm-out:{}#{id}", server.base())),
            own_hash: None,
        })
    }
}
