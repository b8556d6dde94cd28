//! [`OwnSwarm`]: the account's own swarm, namespace 0 — 1:1 messages from peers and the sync
//! copies of the account's other devices (`messages.md` §3.5). Retrieved with the account's
//! signature, opened with its keys ([`classify`]), for exactly one recipient: the account.
//! The same request reads the account's UserGroups config (namespace 5, [`user_config`]).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{user_config, Accepted, Batch, CursorKey, Delivery, Source, Verdict};
use crate::actors::keys::AccountKeys;
use crate::actors::{ActorError, Deps};
use crate::network::{ItemData, NamespaceCursor, RetrievedItem};
use crate::protocol::chat::{self, ChatError, ChatEvent, GroupInvite};
use crate::protocol::dm::{self, DmError};
use crate::protocol::envelope::{decode_dm_payload, parse_content};
use crate::protocol::groups::control;
use crate::protocol::protos::GroupUpdateInviteMessage;
use crate::protocol::storage::{MessageHash, Namespace, Signer};
use crate::store::replays::content_digest;

/// The namespace of 1:1 messages and sync copies (`messages.md` §3.5).
pub const DM_NAMESPACE: Namespace = Namespace(0);

/// Own-swarm copies remembered at most ([`OwnCopies`]): about a minute of sending at the
/// send bench's rate, far longer than a poll interval.
pub const MAX_OWN_COPIES: usize = 16_384;

/// The hashes of the copies this replica stored on its accounts' own swarms (the sync copies
/// of what it sent), newest [`MAX_OWN_COPIES`]. When the account's poll retrieves one of them
/// intact, it is byte for byte what this gateway stored and applied as it sent it: it is
/// passed over unopened, which saves a decryption, a signature check and a database read per
/// sent message (issue 16). A copy forgotten (older, or stored by another replica or before a
/// restart) is opened as before, and the message layer finds the message already there.
#[derive(Debug, Default)]
pub struct OwnCopies {
    hashes: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl OwnCopies {
    /// Remembers the hash of a copy just stored on an own swarm.
    pub fn remember(&self, hash: &str) {
        let mut guard = self.lock();
        let (set, order) = &mut *guard;
        if !set.insert(hash.to_owned()) {
            return;
        }
        order.push_back(hash.to_owned());
        while order.len() > MAX_OWN_COPIES {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
    }

    /// Whether `hash` is one of the copies remembered.
    pub fn contains(&self, hash: &str) -> bool {
        self.lock().0.contains(hash)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashSet<String>, VecDeque<String>)> {
        // A set of hashes has no invariant a panicking holder could break: go on with it.
        self.hashes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The account's own swarm, namespace 0.
#[derive(Clone, Debug)]
pub struct OwnSwarm {
    keys: Arc<AccountKeys>,
    /// This replica's own-swarm copies, passed over unopened.
    own_copies: Arc<OwnCopies>,
    /// Where the UserGroups retrieve starts, when the caller knows it (the previous cycle's
    /// poll plan read it); `None`: read from the database.
    user_groups_cursor: Option<Option<MessageHash>>,
    /// Set once a retrieve kept new UserGroups heads: the cycle merges them afterwards.
    took_user_groups: Arc<AtomicBool>,
}

impl OwnSwarm {
    /// The own swarm of `keys`' account; its UserGroups retrieve starts after
    /// `user_groups_cursor` when that is known, else where the database says.
    pub fn new(
        keys: Arc<AccountKeys>,
        own_copies: Arc<OwnCopies>,
        user_groups_cursor: Option<Option<MessageHash>>,
    ) -> Self {
        Self {
            keys,
            own_copies,
            user_groups_cursor,
            took_user_groups: Arc::default(),
        }
    }

    /// A flag that turns true when a retrieve of this source kept new UserGroups heads.
    pub fn took_user_groups(&self) -> Arc<AtomicBool> {
        self.took_user_groups.clone()
    }
}

impl Source for OwnSwarm {
    fn cursor_key(&self) -> CursorKey {
        CursorKey {
            subject: self.keys.session_id.clone(),
            namespace: DM_NAMESPACE,
        }
    }

    fn label(&self) -> &str {
        self.keys.short()
    }

    async fn retrieve(
        &self,
        deps: &Deps,
        cursor: &NamespaceCursor,
    ) -> Result<Option<Batch>, ActorError> {
        let signer = Signer::Account(self.keys.identity.signing_key());
        // The UserGroups config rides in the same batch (one request); it is stored here.
        let configs = match &self.user_groups_cursor {
            Some(known) => known.clone(),
            // Boxed (as the store below): rare steps, kept out of the state of every poll in
            // flight (issue 16: memory per poll).
            None => Box::pin(user_config::cursor(deps, &self.keys)).await?,
        };
        // (Its one cursor is the per-account one: heads are merged, so a skipped config comes
        // back with the next one's lagged diffs at worst.)
        let cursors = [
            cursor.clone(),
            NamespaceCursor::new(user_config::USER_GROUPS, configs),
        ];
        let mut answers = deps
            .network
            .retrieve_from(&self.keys.account, &signer, &cursors)
            .await?;
        if let Some(configs) = answers
            .iter_mut()
            .find(|a| a.namespace == user_config::USER_GROUPS)
        {
            let items = std::mem::take(&mut configs.messages);
            if Box::pin(user_config::take(deps, &self.keys, &items)).await? {
                self.took_user_groups.store(true, Ordering::Relaxed);
            }
        }
        Ok(answers
            .into_iter()
            .find(|a| a.namespace == DM_NAMESPACE)
            .map(|batch| Batch {
                items: batch.messages,
                more: batch.more,
                pages: batch.pages,
            }))
    }

    fn open(&self, item: &RetrievedItem) -> Vec<Delivery> {
        let own_copy = matches!(item.data, ItemData::Intact(_))
            && self.own_copies.contains(item.hash.as_str());
        let verdict = if own_copy {
            Verdict::OwnCopy
        } else {
            classify(&self.keys, item)
        };
        vec![Delivery {
            recipient: self.keys.session_id.clone(),
            verdict,
        }]
    }
}

/// Checks one retrieved item for `keys`' account (its hash was checked by the network). Pure
/// apart from the CPU work.
pub fn classify(keys: &AccountKeys, message: &RetrievedItem) -> Verdict {
    // The network checked the hash once, as the copy arrived; nothing here hashes again.
    let data = match &message.data {
        ItemData::Intact(data) => data,
        ItemData::Tampered(_) => return Verdict::Tampered,
    };
    let Ok(envelope) = decode_dm_payload(data) else {
        return Verdict::Dropped("invalid_envelope");
    };
    let opened = match dm::decrypt_incoming(&keys.identity, envelope.content_ciphertext()) {
        Ok(opened) => opened,
        Err(DmError::BadSignature | DmError::InvalidSenderKey) => {
            return Verdict::Dropped("bad_signature")
        }
        Err(_) => return Verdict::Dropped("undecryptable"),
    };
    let Ok(content) = parse_content(&opened.plaintext, envelope.timestamp_ms()) else {
        return Verdict::Dropped("invalid_content");
    };
    let Ok(timestamp) = i64::try_from(envelope.timestamp_ms()) else {
        return Verdict::Dropped("invalid_content");
    };
    let own = keys.identity.session_id();
    let sender = opened.sender_session_id;
    let events = match chat::classify(&content, &sender, &own, envelope.timestamp_ms()) {
        Ok(events) => events,
        Err(ChatError::BadSessionId {
            field: "dataMessage.syncTarget",
        }) => return Verdict::Dropped("bad_sync_target"),
        Err(ChatError::BadSessionId { .. }) => return Verdict::Dropped("bad_session_id"),
        Err(ChatError::EmptyContent) => return Verdict::Ignored,
        Err(_) => return Verdict::Dropped("invalid_content"),
    };
    let events: Vec<ChatEvent> = events
        .into_iter()
        .filter(|e| !matches!(e, ChatEvent::Ignored(_)))
        .collect();
    if events.is_empty() {
        return Verdict::Ignored;
    }
    let forged_invite = events.iter().any(|e| match e {
        ChatEvent::GroupInvite(invite) => !invite_is_valid(keys, invite, envelope.timestamp_ms()),
        _ => false,
    });
    if forged_invite {
        return Verdict::Dropped("bad_group_invite");
    }
    Verdict::Accepted(Accepted {
        hash: message.hash.as_str().to_owned(),
        sender: sender.to_string(),
        timestamp,
        events,
        group: None,
        signed_digest: content_digest(&opened.plaintext),
    })
}

/// An invitation is for us when the group's admin signed it for our Session ID and sent
/// time, and its grant is a valid read/write subaccount of ours (groups.md §6.1 step 1).
fn invite_is_valid(keys: &AccountKeys, invite: &GroupInvite, timestamp_ms: u64) -> bool {
    let message = GroupUpdateInviteMessage {
        group_session_id: invite.group.clone(),
        name: invite.name.clone(),
        member_auth_data: invite.member_auth_data.clone(),
        admin_signature: invite.admin_signature.clone(),
    };
    control::verify_invite(
        &message,
        &keys.identity.session_id(),
        &keys.identity.ed25519_public(),
        timestamp_ms,
    )
    .is_ok()
}
