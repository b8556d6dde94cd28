//! The typed calls a gateway makes to a community server (communities.md §1.3–§7), each one
//! onion v4 request signed by one account, and what they return. Bodies the server sends are
//! read leniently (unknown keys ignored) but every field the gateway relies on is checked: a
//! reply that does not read is an error, never a panic.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{CommunityServer, SogsBody, SogsReply, MAX_ROOM_FILE};
use crate::network::client::SessionNetwork;
use crate::network::error::{clip, NetworkError};
use crate::protocol::community::CommunityPost;
use crate::protocol::keys::Identity;

/// Messages asked for per room and poll (§4.3: the server's default and Desktop's).
const POLL_LIMIT: u32 = 100;
/// Reactor IDs listed per emoji (Desktop's `SOGSReactorsFetchCount`, §4.2).
pub const POLL_REACTORS: usize = 5;

/// A room's info (§4.1), the fields the gateway keeps.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct RoomInfo {
    /// The canonical token.
    pub token: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Description, if set.
    #[serde(default)]
    pub description: Option<String>,
    /// Counter of info changes.
    #[serde(default)]
    pub info_updates: i64,
    /// The room's current top `seqno`.
    #[serde(default)]
    pub message_sequence: i64,
    /// Users active within the cutoff.
    #[serde(default)]
    pub active_users: i64,
    /// The room image's file id.
    #[serde(default)]
    pub image_id: Option<i64>,
    /// Visible moderators (IDs).
    #[serde(default)]
    pub moderators: Vec<String>,
    /// Visible admins (IDs).
    #[serde(default)]
    pub admins: Vec<String>,
    /// The caller may read.
    #[serde(default)]
    pub read: bool,
    /// The caller may post.
    #[serde(default)]
    pub write: bool,
    /// The caller may upload.
    #[serde(default)]
    pub upload: bool,
    /// The caller is a moderator.
    #[serde(default)]
    pub moderator: bool,
    /// The caller is an admin.
    #[serde(default)]
    pub admin: bool,
}

impl RoomInfo {
    /// The room's visible moderators and admins, sorted, each once (the gateway treats both as
    /// moderators).
    pub fn moderators_and_admins(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .moderators
            .iter()
            .chain(&self.admins)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// One emoji's reactions on a message (§4.4).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ReactionSummary {
    /// How many reacted.
    #[serde(default)]
    pub count: i64,
    /// Up to [`POLL_REACTORS`] of them (IDs).
    #[serde(default)]
    pub reactors: Vec<String>,
    /// The caller reacted.
    #[serde(default)]
    pub you: bool,
}

/// One row of a room's message list (§4.4): a message, an edit, a deletion tombstone or a
/// reaction-only update.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct RoomMessage {
    /// Server message id.
    pub id: i64,
    /// Change sequence number.
    pub seqno: i64,
    /// Author (`15…` blinded or `05…`); absent on reaction-only rows.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Posted, float seconds.
    #[serde(default)]
    pub posted: Option<f64>,
    /// Edited (or deleted), float seconds.
    #[serde(default)]
    pub edited: Option<f64>,
    /// Base64 padded Content; `null` for a deletion, absent on reaction-only rows.
    #[serde(default)]
    pub data: Option<String>,
    /// Base64 signature over the data bytes.
    #[serde(default)]
    pub signature: Option<String>,
    /// A deletion tombstone.
    #[serde(default)]
    pub deleted: bool,
    /// Reactions by emoji (absent on deletions).
    #[serde(default)]
    pub reactions: Option<BTreeMap<String, ReactionSummary>>,
}

impl RoomMessage {
    /// A reaction-only update: exactly `id`, `seqno` and `reactions` (§4.4).
    pub fn reactions_only(&self) -> bool {
        self.session_id.is_none() && self.data.is_none() && !self.deleted
    }
}

/// A room to poll and where its cursor stands.
#[derive(Clone, Debug)]
pub struct PollRoom {
    /// The room token.
    pub token: String,
    /// The last `seqno` consumed.
    pub seqno: i64,
    /// The `info_updates` last seen.
    pub info_updates: i64,
}

/// One room's part of a poll.
#[derive(Clone, Debug, Default)]
pub struct PolledRoom {
    /// The token polled.
    pub token: String,
    /// The status of its messages sub-request (a 403/404 means we lost access).
    pub code: u16,
    /// New room details when `info_updates` moved.
    pub details: Option<RoomInfo>,
    /// Updates after the cursor, ascending `seqno`.
    pub messages: Vec<RoomMessage>,
}

/// A server's answer to a post (§4.5).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Posted {
    /// The message id.
    pub id: i64,
    /// Posted, float seconds.
    #[serde(default)]
    pub posted: f64,
    /// The room's seqno after the post.
    #[serde(default)]
    pub seqno: i64,
}

/// A blinded DM from the inbox or outbox (§6).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct InboxMessage {
    /// Inbox id (server-wide sequence).
    pub id: i64,
    /// Posted, float seconds.
    #[serde(default)]
    pub posted_at: f64,
    /// The sender's blinded ID.
    pub sender: String,
    /// The recipient's blinded ID.
    pub recipient: String,
    /// Base64 of the encrypted message.
    #[serde(default)]
    pub message: Option<String>,
}

/// Where a ban applies (§7).
#[derive(Clone, Debug)]
pub enum BanScope {
    /// These rooms.
    Rooms(Vec<String>),
}

/// One `/batch` sub-response.
#[derive(Deserialize)]
struct SubReply {
    code: u16,
    #[serde(default)]
    body: Value,
}

/// The `pollInfo` answer: only `details` matters here.
#[derive(Deserialize)]
struct PollInfo {
    #[serde(default)]
    details: Option<RoomInfo>,
}

fn json_body(value: &Value) -> SogsBody {
    SogsBody::Json(value.to_string().into_bytes())
}

fn bad_reply(what: &str) -> NetworkError {
    NetworkError::Community {
        status: 502,
        message: clip(what),
    }
}

impl SessionNetwork {
    /// `GET /capabilities` (§1.4), blinded as Desktop signs it.
    pub async fn community_capabilities(
        &self,
        server: &CommunityServer,
        identity: &Identity,
    ) -> Result<Vec<String>, NetworkError> {
        #[derive(Deserialize)]
        struct Caps {
            capabilities: Vec<String>,
        }
        let reply = self
            .sogs(
                server,
                Some(identity),
                "GET",
                "/capabilities",
                SogsBody::Empty,
            )
            .await?
            .success()?;
        Ok(reply.json::<Caps>()?.capabilities)
    }

    /// `GET /room/{token}` (§4.1).
    pub async fn community_room(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        token: &str,
    ) -> Result<RoomInfo, NetworkError> {
        let endpoint = format!("/room/{token}");
        let reply = self
            .sogs(server, Some(identity), "GET", &endpoint, SogsBody::Empty)
            .await?
            .success()?;
        reply.json()
    }

    /// One poll of `rooms` in a single `/batch` (§4.2): per room its `pollInfo` and the
    /// messages after its cursor (reaction updates included).
    pub async fn community_poll(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        rooms: &[PollRoom],
    ) -> Result<Vec<PolledRoom>, NetworkError> {
        let mut subs = Vec::with_capacity(rooms.len() * 2);
        for room in rooms {
            let t = &room.token;
            subs.push(json!({"method": "GET", "path": format!("/room/{t}/pollInfo/{}", room.info_updates)}));
            subs.push(json!({"method": "GET", "path": format!(
                "/room/{t}/messages/since/{}?t=r&reactors={POLL_REACTORS}&limit={POLL_LIMIT}",
                room.seqno
            )}));
        }
        let reply = self
            .sogs(
                server,
                Some(identity),
                "POST",
                "/batch",
                json_body(&Value::Array(subs)),
            )
            .await?
            .success()?;
        read_poll(rooms, &reply)
    }

    /// `POST /room/{token}/message` (§4.5) with the files the post links.
    pub async fn community_post(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        token: &str,
        post: &CommunityPost,
        files: &[i64],
    ) -> Result<Posted, NetworkError> {
        let mut body = json!({
            "data": STANDARD.encode(post.data()),
            "signature": STANDARD.encode(post.signature()),
            "timestamp": post.timestamp_ms(),
        });
        if !files.is_empty() {
            body["files"] = json!(files);
        }
        let endpoint = format!("/room/{token}/message");
        let reply = self
            .sogs(server, Some(identity), "POST", &endpoint, json_body(&body))
            .await?
            .success()?;
        reply.json()
    }

    /// `DELETE /room/{token}/message/{id}` (§4.5): our own, or any as a moderator. A message
    /// already gone (404) counts as deleted.
    pub async fn community_delete(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        token: &str,
        id: i64,
    ) -> Result<(), NetworkError> {
        let endpoint = format!("/room/{token}/message/{id}");
        let reply = self
            .sogs(server, Some(identity), "DELETE", &endpoint, SogsBody::Empty)
            .await?;
        if reply.code == 404 {
            return Ok(());
        }
        reply.success().map(|_| ())
    }

    /// `PUT`/`DELETE /room/{token}/reaction/{id}/{emoji}` (§4.7), the emoji raw UTF-8 in the
    /// path as Desktop sends it.
    pub async fn community_react(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        token: &str,
        id: i64,
        emoji: &str,
        remove: bool,
    ) -> Result<(), NetworkError> {
        let endpoint = format!("/room/{token}/reaction/{id}/{emoji}");
        let method = if remove { "DELETE" } else { "PUT" };
        self.sogs(server, Some(identity), method, &endpoint, SogsBody::Empty)
            .await?
            .success()
            .map(|_| ())
    }

    /// `POST /room/{token}/file` (§5): the plaintext bytes; returns the file id.
    pub async fn community_upload(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        token: &str,
        bytes: Vec<u8>,
    ) -> Result<i64, NetworkError> {
        #[derive(Deserialize)]
        struct Uploaded {
            id: i64,
        }
        if bytes.len() > MAX_ROOM_FILE {
            return Err(NetworkError::Community {
                status: 413,
                message: format!("{} bytes is more than {MAX_ROOM_FILE}", bytes.len()),
            });
        }
        let endpoint = format!("/room/{token}/file");
        let reply = self
            .sogs(
                server,
                Some(identity),
                "POST",
                &endpoint,
                SogsBody::Bytes(bytes),
            )
            .await?
            .success()?;
        Ok(reply.json::<Uploaded>()?.id)
    }

    /// `GET /room/{token}/file/{id}` (§5): the file's bytes.
    pub async fn community_download(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        token: &str,
        id: i64,
    ) -> Result<Vec<u8>, NetworkError> {
        let endpoint = format!("/room/{token}/file/{id}");
        let reply = self
            .sogs(server, Some(identity), "GET", &endpoint, SogsBody::Empty)
            .await?
            .success()?;
        Ok(reply.body)
    }

    /// `POST /inbox/{recipient}` (§6): an encrypted blinded DM; returns its inbox id.
    pub async fn community_send_dm(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        recipient: &str,
        ciphertext: &[u8],
        sent_ms: u64,
    ) -> Result<i64, NetworkError> {
        #[derive(Deserialize)]
        struct Sent {
            id: i64,
        }
        let body = json!({"message": STANDARD.encode(ciphertext), "timestamp": sent_ms});
        let endpoint = format!("/inbox/{recipient}");
        let reply = self
            .sogs(server, Some(identity), "POST", &endpoint, json_body(&body))
            .await?
            .success()?;
        Ok(reply.json::<Sent>()?.id)
    }

    /// `GET /inbox/since/{id}` (§6): DMs to us after `since` (all with 0); a 304 is none.
    pub async fn community_inbox(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        since: i64,
    ) -> Result<Vec<InboxMessage>, NetworkError> {
        let endpoint = if since > 0 {
            format!("/inbox/since/{since}")
        } else {
            "/inbox".to_owned()
        };
        let reply = self
            .sogs(server, Some(identity), "GET", &endpoint, SogsBody::Empty)
            .await?;
        if reply.code == 304 {
            return Ok(Vec::new());
        }
        let reply: SogsReply = reply.success()?;
        reply.json()
    }

    /// `POST /user/{id}/ban` or `/unban` (§7), with an optional timeout in seconds.
    pub async fn community_ban(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        user: &str,
        scope: &BanScope,
        ban: bool,
        timeout_s: Option<u64>,
    ) -> Result<(), NetworkError> {
        let BanScope::Rooms(rooms) = scope;
        let mut body = json!({"rooms": rooms});
        if let (true, Some(t)) = (ban, timeout_s) {
            body["timeout"] = json!(t);
        }
        let verb = if ban { "ban" } else { "unban" };
        let endpoint = format!("/user/{user}/{verb}");
        self.sogs(server, Some(identity), "POST", &endpoint, json_body(&body))
            .await?
            .success()
            .map(|_| ())
    }

    /// `DELETE /room/{token}/all/{id}` (§7): every post of `user` in the room. Nothing to
    /// delete (404) is not an error.
    pub async fn community_delete_all(
        &self,
        server: &CommunityServer,
        identity: &Identity,
        token: &str,
        user: &str,
    ) -> Result<(), NetworkError> {
        let endpoint = format!("/room/{token}/all/{user}");
        let reply = self
            .sogs(server, Some(identity), "DELETE", &endpoint, SogsBody::Empty)
            .await?;
        if reply.code == 404 {
            return Ok(());
        }
        reply.success().map(|_| ())
    }
}

/// Reads a poll's `/batch` answer (untrusted): per room of `rooms`, in order, its `pollInfo`
/// and its messages sub-replies. Public for the fuzz targets.
pub fn read_poll(rooms: &[PollRoom], reply: &SogsReply) -> Result<Vec<PolledRoom>, NetworkError> {
    let subs: Vec<SubReply> = reply.json()?;
    if subs.len() != rooms.len() * 2 {
        return Err(bad_reply("batch answer has the wrong number of parts"));
    }
    let mut out = Vec::with_capacity(rooms.len());
    for (room, pair) in rooms.iter().zip(subs.chunks(2)) {
        let details = if pair[0].code == 200 {
            serde_json::from_value::<PollInfo>(pair[0].body.clone())
                .map_err(|e| bad_reply(&format!("pollInfo: {e}")))?
                .details
        } else {
            None
        };
        let messages = if pair[1].code == 200 {
            serde_json::from_value(pair[1].body.clone())
                .map_err(|e| bad_reply(&format!("messages: {e}")))?
        } else {
            Vec::new()
        };
        out.push(PolledRoom {
            token: room.token.clone(),
            code: pair[1].code,
            details,
            messages,
        });
    }
    Ok(out)
}
