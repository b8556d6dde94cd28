//! Community servers as a source (communities.md §4.2, §6; design.md §10).
//!
//! **Rooms**: a server is polled by its lead (the smallest active local account in any of its
//! rooms, [`crate::store::Store::lead_servers`]) with one signed `/batch` per poll cycle: per
//! room its `pollInfo` and the updates after the room's cursor. Each row is verified once (the
//! post signature against its author's blinded key, the padded Content, `sigTimestamp` within
//! 6 h of `posted`) and applied for every local member of the room
//! ([`crate::chat::incoming::apply_room`]); the rows, the room's new info and its cursor are
//! committed in one transaction (fenced by the lead's lease).
//!
//! **DM inboxes**: a server runs `/inbox` sub-requests as the outer request's user (§3.3), so
//! each account reads its own inbox with its own signature, once per its poll cycle. A DM is
//! decrypted with the blinded scheme (§6), its sender's `05` ID recovered from the key inside,
//! and applied as a 1:1 message from the sender's blinded ID (message requests included).

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::Accepted;
use crate::actors::keys::AccountKeys;
use crate::actors::{ActorError, Deps};
use crate::chat::incoming::{room_message_hash, RoomChange, RoomReactions, RoomUpdate};
use crate::clock::now_ms;
use crate::network::community::{CommunityServer, InboxMessage, PollRoom, RoomInfo, RoomMessage};
use crate::protocol::blinding::{decrypt_from_blinded_recipient, BlindedId};
use crate::protocol::chat::{self, ChatEvent};
use crate::protocol::community::verify_post_signature;
use crate::protocol::envelope::parse_content;
use crate::protocol::keys::{PrefixedId, SessionId, X25519PublicKey};
use crate::store::communities::{BlindedPeer, CommunityRoom, InboxCursor};
use crate::store::replays::content_digest;
use crate::store::LeaseToken;

/// How far a post's `sigTimestamp` may be from its `posted` time (Desktop: 6 h, §4.5).
const MAX_POST_SKEW_MS: i64 = 6 * 60 * 60 * 1000;

/// What one server poll did.
#[derive(Debug, Default)]
pub struct CommunityOutcome {
    /// Rows consumed.
    pub consumed: usize,
    /// Messages newly stored (over every member).
    pub stored: usize,
    /// Servers polled.
    pub servers: usize,
}

/// The server a stored room lives on.
pub fn server_of(room: &CommunityRoom) -> Result<CommunityServer, ActorError> {
    server_at(&room.server, &room.server_key)
}

/// The server at `base` with the stored hex X25519 `key` ([`ActorError::Community`] when the
/// key does not read).
pub fn server_at(base: &str, key: &str) -> Result<CommunityServer, ActorError> {
    let key: X25519PublicKey = key
        .parse()
        .map_err(|_| ActorError::Community(format!("stored server key of {base} is invalid")))?;
    CommunityServer::new(base, key).map_err(ActorError::Network)
}

/// Polls `servers`, the ones `lead` leads ([`crate::store::poll_plan::PollPlan`]): every
/// joined room on each, for every local member.
pub async fn poll_servers(
    deps: Deps,
    lead: Arc<AccountKeys>,
    servers: Vec<String>,
    lease: Option<LeaseToken>,
) -> Result<CommunityOutcome, ActorError> {
    let mut total = CommunityOutcome::default();
    for server in servers {
        match poll_server(&deps, &lead, &server, lease.as_ref()).await {
            Ok(outcome) => {
                total.consumed += outcome.consumed;
                total.stored += outcome.stored;
                total.servers += 1;
            }
            Err(error) if error.is_lease_lost() => return Err(error),
            Err(error) => {
                deps.metrics.polls.with_label_values(&["error"]).inc();
                tracing::debug!(server, %error, "community poll failed");
            }
        }
    }
    Ok(total)
}

/// One `/batch` poll of `server`'s joined rooms.
async fn poll_server(
    deps: &Deps,
    lead: &AccountKeys,
    server: &str,
    lease: Option<&LeaseToken>,
) -> Result<CommunityOutcome, ActorError> {
    let rooms = deps.store.server_rooms(server).await?;
    let Some(first) = rooms.first() else {
        return Ok(CommunityOutcome::default());
    };
    let target = server_of(first)?;
    let polls: Vec<PollRoom> = rooms
        .iter()
        .map(|r| PollRoom {
            token: r.token.clone(),
            seqno: r.seqno,
            info_updates: r.info_updates,
        })
        .collect();
    let polled = deps
        .network
        .community_poll(&target, &lead.identity, &polls)
        .await?;
    // Read before the transaction: SQLite has one connection, held by an open transaction.
    let mut members = Vec::with_capacity(rooms.len());
    for room in &rooms {
        members.push(room_members(deps, &room.room).await?);
    }
    let mut outcome = CommunityOutcome::default();
    let now = now_ms();
    let mut tx = match lease {
        Some(lease) => deps.store.begin_fenced(lease).await?,
        None => deps.store.begin().await?,
    };
    // Accounts that got a post with files: their fetcher is kicked after the commit.
    let mut with_files: Vec<&str> = Vec::new();
    for ((room, polled), members) in rooms.iter().zip(polled).zip(&members) {
        if !(200..300).contains(&polled.code) {
            tracing::warn!(room = %room.room, code = polled.code, "room poll refused");
            continue;
        }
        if let Some(details) = &polled.details {
            let updated = updated_room(room, details);
            if updated != *room {
                tx.set_room_info(&updated, now).await?;
                room_updated(&mut tx, &updated, members, now).await?;
            }
        }
        let mut messages = polled.messages;
        messages.sort_by_key(|m| m.seqno);
        let mut top = room.seqno;
        for row in &messages {
            let update = open_row(&room.room, row);
            if has_files(&update) {
                with_files.extend(members.iter().map(|(account, _)| account.as_str()));
            }
            if let RoomChange::Unreadable(reason) = update.change {
                deps.metrics
                    .messages_dropped
                    .with_label_values(&[reason])
                    .inc();
            }
            for (account, blinded) in members {
                outcome.stored += crate::chat::incoming::apply_room(
                    &mut tx,
                    &deps.store,
                    &deps.metrics,
                    account,
                    blinded,
                    &update,
                    now,
                )
                .await?;
            }
            top = top.max(row.seqno);
            outcome.consumed += 1;
        }
        tx.set_room_cursor(&room.room, top, now).await?;
    }
    tx.commit().await?;
    with_files.sort_unstable();
    with_files.dedup();
    for account in with_files {
        deps.attachments.kick(deps, account);
    }
    Ok(outcome)
}

/// A post that carries files (fetched in the background once stored).
fn has_files(update: &RoomUpdate) -> bool {
    match &update.change {
        RoomChange::Post(a) => a
            .events
            .iter()
            .any(|e| matches!(e, ChatEvent::Message(m) if !m.attachments.is_empty())),
        _ => false,
    }
}

/// The local members of `room` as (account, blinded ID).
async fn room_members(deps: &Deps, room: &str) -> Result<Vec<(String, String)>, ActorError> {
    Ok(deps
        .store
        .room_members(room)
        .await?
        .into_iter()
        .map(|m| (m.account, m.blinded_id))
        .collect())
}

/// `room` with what `details` says now.
fn updated_room(room: &CommunityRoom, details: &RoomInfo) -> CommunityRoom {
    CommunityRoom {
        name: details.name.clone(),
        description: details.description.clone(),
        info_updates: details.info_updates,
        moderators: details.moderators_and_admins(),
        ..room.clone()
    }
}

/// `community.updated` for every local member of `room`.
async fn room_updated(
    tx: &mut crate::store::StoreTx,
    room: &CommunityRoom,
    members: &[(String, String)],
    now: i64,
) -> Result<(), ActorError> {
    for (account, blinded) in members {
        let joined = crate::chat::community::JoinedRoom {
            room: room.clone(),
            member: crate::store::communities::RoomMember {
                account: account.clone(),
                blinded_id: blinded.clone(),
                moderator: room.moderators.contains(blinded),
                joined_at: 0,
            },
        };
        tx.append_event(&crate::store::events::NewEvent {
            account: Some(account.clone()),
            conversation: Some(room.room.clone()),
            timestamp: now,
            data: joined.event_data(false),
        })
        .await?;
    }
    Ok(())
}

/// Reads one row of a room's message list into what it means for every member.
pub fn open_row(room: &str, row: &RoomMessage) -> RoomUpdate {
    let reactions = row.reactions.as_ref().map(|map| {
        map.iter()
            .map(|(emoji, summary)| RoomReactions {
                emoji: emoji.clone(),
                reactors: summary.reactors.clone(),
                complete: usize::try_from(summary.count)
                    .is_ok_and(|count| count <= summary.reactors.len()),
            })
            .collect()
    });
    let hash = room_message_hash(room, row.id);
    let change = if row.deleted {
        RoomChange::Deleted
    } else if row.reactions_only() {
        RoomChange::Reactions
    } else {
        match open_post(row) {
            Ok(accepted) => RoomChange::Post(Accepted {
                hash: hash.clone(),
                ..accepted
            }),
            Err(reason) => {
                tracing::warn!(room, id = row.id, reason, "dropped an invalid room message");
                RoomChange::Unreadable(reason)
            }
        }
    };
    RoomUpdate {
        room: room.to_owned(),
        hash,
        change,
        reactions,
    }
}

/// Verifies a post (§4.5): the signature over the data bytes against the author's key, the
/// padded Content, a visible message, `sigTimestamp` within 6 h of `posted`.
fn open_post(row: &RoomMessage) -> Result<Accepted, &'static str> {
    let author_text = row.session_id.as_deref().ok_or("no_author")?;
    let author: PrefixedId = author_text.parse().map_err(|_| "bad_author")?;
    let data = STANDARD
        .decode(row.data.as_deref().ok_or("no_data")?)
        .map_err(|_| "bad_data")?;
    let signature: [u8; 64] = row
        .signature
        .as_deref()
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|s| s.try_into().ok())
        .ok_or("bad_signature")?;
    verify_post_signature(&author, &data, &signature).map_err(|_| "bad_signature")?;
    let mut content = parse_content(&data, 0).map_err(|_| "invalid_content")?;
    // A reply in a room names its quoted author by blinded ID, which the 1:1 model of a quote
    // cannot hold: the reply is kept, without its quote.
    if let Some(message) = content.data_message.as_mut() {
        if message
            .quote
            .as_ref()
            .is_some_and(|q| !q.author.starts_with("05"))
        {
            message.quote = None;
        }
    }
    let signed = content.sig_timestamp.unwrap_or(0);
    let signed_ms = i64::try_from(signed).map_err(|_| "invalid_content")?;
    // `posted` is float seconds from the server clock; the cast saturates, and the distance
    // is taken without overflow (a server's `posted` of -1e300 made `posted - signed` panic
    // in debug builds: found by the `community` fuzz target).
    let posted_ms = (row.posted.unwrap_or(0.0) * 1000.0).floor() as i64;
    if signed_ms == 0 || too_far(posted_ms, signed_ms) {
        return Err("bad_timestamp");
    }
    // The protocol's classifier compares IDs only; a room author is a blinded key, named here
    // by its bytes (no 1:1 rule applies: only the visible message of a room post is kept).
    let sender = SessionId::from_x25519(X25519PublicKey::from_bytes(*author.key()));
    let events =
        chat::classify(&content, &sender, &sender, signed).map_err(|_| "invalid_content")?;
    let events: Vec<ChatEvent> = events
        .into_iter()
        .filter(|e| matches!(e, ChatEvent::Message(_)))
        .collect();
    if events.is_empty() {
        return Err("not_a_message");
    }
    Ok(Accepted {
        hash: String::new(),
        sender: author_text.to_owned(),
        timestamp: signed_ms,
        events,
        group: None,
        signed_digest: content_digest(&data),
    })
}

/// Whether a message signed at `signed_ms` is too far from when the server says it was
/// posted ([`MAX_POST_SKEW_MS`]); both are peer-supplied, so the distance must not overflow.
fn too_far(posted_ms: i64, signed_ms: i64) -> bool {
    posted_ms.abs_diff(signed_ms) > MAX_POST_SKEW_MS.unsigned_abs()
}

/// Reads `keys`' DM `inboxes` (one on every server it has a room on), applying what arrived.
pub async fn poll_inboxes(
    deps: Deps,
    keys: Arc<AccountKeys>,
    inboxes: Vec<InboxCursor>,
    lease: Option<LeaseToken>,
) -> Result<usize, ActorError> {
    let mut stored = 0;
    for inbox in inboxes {
        let polled = async {
            let server = server_at(&inbox.server, &inbox.server_key)?;
            let messages = deps
                .network
                .community_inbox(&server, &keys.identity, inbox.last_id)
                .await?;
            apply_inbox(&deps, &keys, &server, &messages, lease.as_ref()).await
        }
        .await;
        match polled {
            Ok(n) => stored += n,
            Err(error) if error.is_lease_lost() => return Err(error),
            Err(error) => {
                tracing::debug!(server = inbox.server, %error, "community inbox poll failed");
            }
        }
    }
    Ok(stored)
}

/// Applies an inbox page: each DM that decrypts, verifies and parses becomes a 1:1 message
/// from its sender's blinded ID; the inbox cursor moves past all of them, in one transaction.
async fn apply_inbox(
    deps: &Deps,
    keys: &AccountKeys,
    server: &CommunityServer,
    messages: &[InboxMessage],
    lease: Option<&LeaseToken>,
) -> Result<usize, ActorError> {
    let Some(last) = messages.iter().map(|m| m.id).max() else {
        return Ok(0);
    };
    let now = now_ms();
    let mut tx = match lease {
        Some(lease) => deps.store.begin_fenced(lease).await?,
        None => deps.store.begin().await?,
    };
    let mut stored = 0;
    for message in messages {
        let (accepted, session_id) = match open_dm(keys, server, message) {
            Ok(opened) => opened,
            Err(reason) => {
                deps.metrics
                    .messages_dropped
                    .with_label_values(&[reason])
                    .inc();
                tracing::warn!(id = message.id, reason, "dropped an invalid community DM");
                continue;
            }
        };
        let peer = BlindedPeer {
            server: server.base().to_owned(),
            server_key: server.pubkey().to_string(),
            session_id: Some(session_id),
        };
        tx.set_blinded_peer(&keys.session_id, &accepted.sender, &peer)
            .await?;
        stored += crate::chat::incoming::apply(
            &mut tx,
            &deps.store,
            &deps.metrics,
            &keys.session_id,
            &accepted,
            now,
        )
        .await?;
    }
    tx.set_inbox_cursor(&keys.session_id, server.base(), last)
        .await?;
    tx.commit().await?;
    Ok(stored)
}

/// Decrypts one DM to us (§6) into an accepted message from the sender's blinded ID, and
/// the sender's `05` Session ID. Public for the fuzz targets (a server's inbox is untrusted).
pub fn open_dm(
    keys: &AccountKeys,
    server: &CommunityServer,
    message: &InboxMessage,
) -> Result<(Accepted, String), &'static str> {
    let sender: BlindedId = message.sender.parse().map_err(|_| "bad_author")?;
    let recipient: BlindedId = message.recipient.parse().map_err(|_| "bad_author")?;
    let ciphertext = STANDARD
        .decode(message.message.as_deref().ok_or("no_data")?)
        .map_err(|_| "bad_data")?;
    let opened = decrypt_from_blinded_recipient(
        &keys.identity,
        server.pubkey(),
        &sender,
        &recipient,
        &ciphertext,
    )
    .map_err(|_| "undecryptable")?;
    let content = parse_content(&opened.plaintext, 0).map_err(|_| "invalid_content")?;
    let signed = content.sig_timestamp.unwrap_or(0);
    let timestamp = i64::try_from(signed).map_err(|_| "invalid_content")?;
    let posted_ms = (message.posted_at * 1000.0).floor() as i64;
    if timestamp == 0 || too_far(posted_ms, timestamp) {
        return Err("bad_timestamp");
    }
    let own = keys.identity.session_id();
    let events = chat::classify(&content, &opened.sender_session_id, &own, signed)
        .map_err(|_| "invalid_content")?;
    let events: Vec<ChatEvent> = events
        .into_iter()
        .filter(|e| !matches!(e, ChatEvent::Ignored(_)))
        .collect();
    if events.is_empty() {
        return Err("not_a_message");
    }
    Ok((
        Accepted {
            hash: format!("sogs-dm:{}#{}", server.base(), message.id),
            sender: message.sender.clone(),
            timestamp,
            events,
            group: None,
            signed_digest: content_digest(&opened.plaintext),
        },
        opened.sender_session_id.to_string(),
    ))
}

#[cfg(test)]
#[path = "community_tests.rs"]
mod tests;
