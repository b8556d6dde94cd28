//! The server's in-memory tables, shaped after PYSOGS `schema.sqlite` (communities.md §8.2):
//! users keyed by the "abs" form of their blinded key, rooms, one server-wide message id
//! sequence, one file id sequence, one inbox id sequence, and the global nonce table.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::protocol::blinding::blind15_ids;
use crate::protocol::keys::{IdPrefix, PrefixedId, SessionId, X25519PublicKey};

/// Seconds a nonce is remembered (§2.4: rows expire 24 h after insertion).
pub const NONCE_LIFETIME_S: f64 = 86_400.0;
/// A room counts a user as active for this long after their last read (`active_users_cutoff`).
pub const ACTIVE_CUTOFF_S: u64 = 604_800;

/// A user as the server matches them: the blinded key with the sign bit cleared (PYSOGS keeps
/// this "abs" form so both blind15 candidates of a Session ID hit the same row, §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserKey([u8; 32]);

impl UserKey {
    /// The key of a `15` blinded ID, or of a `05` Session ID mapped to its blind15 ID on this
    /// server (`User(..., try_blinding=True)`); `None` for other IDs.
    pub fn of(id: &PrefixedId, server: &X25519PublicKey) -> Option<Self> {
        let mut key = match id.prefix() {
            IdPrefix::Blinded15 => *id.key(),
            IdPrefix::Standard => {
                let session = SessionId::try_from(*id).ok()?;
                let [first, _] = blind15_ids(&session, server).ok()?;
                *first.key().as_bytes()
            }
            _ => return None,
        };
        key[31] &= 0x7f;
        Some(Self(key))
    }
}

/// A user row: created the first time an ID authenticates (§2.4 row 10) or is named by a
/// moderator.
#[derive(Debug, Clone)]
pub struct User {
    /// The ID shown for them: the `15…` ID they authenticated with, or the ID a moderator
    /// named before they ever did.
    pub session_id: String,
    /// Whether the ID has authenticated (only then can it receive DMs, §8.2).
    pub seen: bool,
    /// Global ban (`Banned` on every authenticated request).
    pub banned: bool,
}

/// A moderator or admin of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModRole {
    /// Admin (implies moderator).
    pub admin: bool,
    /// Listed in room info (`moderators`/`admins`) or only in `hidden_*`.
    pub visible: bool,
}

/// One reaction emoji on a message and who reacted, oldest first.
#[derive(Debug, Clone)]
pub struct Reaction {
    /// The emoji (1–12 code points).
    pub emoji: String,
    /// `(session_id, user, at)` in reaction order.
    pub reactors: Vec<(String, UserKey, f64)>,
}

/// A message row (§4.4, §4.6).
#[derive(Debug, Clone)]
pub struct Message {
    /// Server-wide id.
    pub id: i64,
    /// Canonical token of its room.
    pub room: String,
    /// Author's ID as authenticated.
    pub author: String,
    /// Author's user key.
    pub author_key: UserKey,
    /// Float seconds.
    pub posted: f64,
    /// Set on edit and on deletion.
    pub edited: Option<f64>,
    /// The bytes as posted; `None` once deleted.
    pub data: Option<Vec<u8>>,
    /// The signature as posted; `None` once deleted.
    pub signature: Option<Vec<u8>>,
    /// `seqno_data`: set on insert, edit, delete.
    pub seqno_data: i64,
    /// `seqno_reactions`: set on each reaction change.
    pub seqno_reactions: i64,
    /// `seqno_creation`: set once.
    pub seqno_creation: i64,
    /// Reactions, in first-added order.
    pub reactions: Vec<Reaction>,
    /// Files the post owns (expired when it is deleted).
    pub files: Vec<i64>,
}

impl Message {
    /// The public `seqno`.
    pub fn seqno(&self) -> i64 {
        self.seqno_data.max(self.seqno_reactions)
    }
    /// Whether it was deleted.
    pub fn deleted(&self) -> bool {
        self.data.is_none()
    }
}

/// A pinned message.
#[derive(Debug, Clone)]
pub struct Pin {
    /// Message id.
    pub id: i64,
    /// Float seconds.
    pub pinned_at: f64,
    /// Who pinned it.
    pub pinned_by: String,
}

/// A room.
#[derive(Debug, Clone)]
pub struct Room {
    /// Canonical token (case kept; lookups are case-insensitive).
    pub token: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Float seconds.
    pub created: f64,
    /// +1 on name/description/pin/moderator changes.
    pub info_updates: i64,
    /// The room's top seqno.
    pub message_sequence: i64,
    /// Moderators and admins.
    pub mods: BTreeMap<UserKey, ModRole>,
    /// Bans: `None` forever, else until these float seconds.
    pub bans: HashMap<UserKey, Option<f64>>,
    /// Last read per user (seconds), for `active_users`.
    pub active: HashMap<UserKey, u64>,
    /// Pinned messages, oldest pin first.
    pub pins: Vec<Pin>,
    /// Recent post times per user (rate limit, §4.5).
    pub recent_posts: HashMap<UserKey, VecDeque<f64>>,
}

impl Room {
    /// A new empty room.
    pub fn new(token: &str, name: &str, description: Option<String>, now: f64) -> Self {
        Self {
            token: token.to_owned(),
            name: name.to_owned(),
            description,
            created: now,
            info_updates: 0,
            message_sequence: 0,
            mods: BTreeMap::new(),
            bans: HashMap::new(),
            active: HashMap::new(),
            pins: Vec::new(),
            recent_posts: HashMap::new(),
        }
    }

    /// Takes the next seqno.
    pub fn next_seqno(&mut self) -> i64 {
        self.message_sequence += 1;
        self.message_sequence
    }
}

/// An uploaded file.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// Canonical token of its room.
    pub room: String,
    /// Uploader.
    pub uploader: UserKey,
    /// Bytes.
    pub data: Vec<u8>,
    /// Float seconds.
    pub uploaded: f64,
    /// `None`: never expires (a pinned post's file).
    pub expires: Option<f64>,
    /// Whether a post owns it.
    pub linked: bool,
}

/// A blinded DM in the server inbox (§6).
#[derive(Debug, Clone)]
pub struct DirectMessage {
    /// Inbox id (its own sequence).
    pub id: i64,
    /// Sender's `15…` ID.
    pub sender: String,
    /// Sender's key.
    pub sender_key: UserKey,
    /// Recipient's `15…` ID.
    pub recipient: String,
    /// Recipient's key.
    pub recipient_key: UserKey,
    /// The ciphertext.
    pub message: Vec<u8>,
    /// Float seconds.
    pub posted_at: f64,
    /// Float seconds.
    pub expires_at: f64,
}

/// Every table.
#[derive(Debug, Default)]
pub struct Tables {
    /// Users by key.
    pub users: HashMap<UserKey, User>,
    /// Rooms by lower-cased token.
    pub rooms: BTreeMap<String, Room>,
    /// Messages by id.
    pub messages: BTreeMap<i64, Message>,
    /// Last message id handed out.
    pub last_message_id: i64,
    /// Files by id.
    pub files: BTreeMap<i64, StoredFile>,
    /// Last file id handed out.
    pub last_file_id: i64,
    /// Inbox by id.
    pub inbox: BTreeMap<i64, DirectMessage>,
    /// Last inbox id handed out.
    pub last_inbox_id: i64,
    /// Nonces seen (any user), with their insertion time in seconds.
    pub nonces: HashMap<[u8; 16], f64>,
}

impl Tables {
    /// The room named by `token` (case-insensitive).
    pub fn room(&self, token: &str) -> Option<&Room> {
        self.rooms.get(&token.to_ascii_lowercase())
    }
    /// Mutable [`Tables::room`].
    pub fn room_mut(&mut self, token: &str) -> Option<&mut Room> {
        self.rooms.get_mut(&token.to_ascii_lowercase())
    }
    /// The user row of `key`, created with `session_id` when missing.
    pub fn user_row(&mut self, key: UserKey, session_id: &str) -> &mut User {
        self.users.entry(key).or_insert_with(|| User {
            session_id: session_id.to_owned(),
            seen: false,
            banned: false,
        })
    }
    /// The ID to show for `key`.
    pub fn shown_id(&self, key: &UserKey) -> String {
        self.users
            .get(key)
            .map(|u| u.session_id.clone())
            .unwrap_or_default()
    }
    /// Drops expired nonces, files and DMs.
    pub fn sweep(&mut self, now: f64) {
        self.nonces.retain(|_, at| now - *at < NONCE_LIFETIME_S);
        self.files
            .retain(|_, f| f.expires.is_none_or(|exp| exp > now));
        self.inbox.retain(|_, m| m.expires_at > now);
    }
}
