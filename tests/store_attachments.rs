//! The attachment and avatar tables (migration 0004) on SQLite and PostgreSQL: outgoing files go
//! in with their queued message and keep their upload record; incoming pointers settle once;
//! keys are sealed (never stored in the clear); a contact's avatar image is cached per URL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use session_gateway::protocol::attachment::ProfileKey;
use session_gateway::protocol::chat::profile::Avatar;
use session_gateway::store::attachments::{
    AttachmentStatus, FetchOutcome, IncomingPointer, NewAttachment,
};
use session_gateway::store::chat::ContactProfile;
use session_gateway::store::messages::{new_message_id, Direction, MessageStatus, NewMessage};
use session_gateway::store::Store;
use zeroize::Zeroizing;

const ME: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";

async fn store() -> (Store, tempfile::TempDir) {
    common::store_with_account(ME).await
}

fn message(direction: Direction, status: MessageStatus) -> NewMessage {
    NewMessage {
        id: new_message_id(),
        account: ME.into(),
        peer: PEER.into(),
        author: match direction {
            Direction::Incoming => PEER.into(),
            Direction::Outgoing => ME.into(),
        },
        direction,
        status,
        hash: (direction == Direction::Incoming).then(new_message_id),
        text: String::new(),
        timestamp: 1_000,
        idempotency_key: None,
    }
}

/// Stores `avatar` as PEER's profile on ME's conversation, as the inbox does.
async fn contact_profile(store: &Store, avatar: &Avatar, updated: i64) {
    let sealed = store.seal_profile_key(ME, PEER, avatar.key.expose_secret());
    let profile = ContactProfile {
        name: Some("Peer"),
        avatar_url: Some(&avatar.url),
        key_sealed: Some(&sealed),
        updated: Some(updated),
    };
    let mut tx = store.begin().await.unwrap();
    tx.set_contact_profile(ME, PEER, &profile, updated)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

both_backends! {
    async fn outgoing_files_are_queued_with_their_message_and_keep_the_upload() {
        let (store, _dir) = store().await;
        let files = [NewAttachment {
            content_type: "image/png".into(),
            file_name: Some("a.png".into()),
            data: vec![1, 2, 3],
        }];
        let queued = store
            .enqueue_outgoing_with(&message(Direction::Outgoing, MessageStatus::Queued), None, &files, 5)
            .await
            .unwrap();
        let stored = store.message_attachments(&queued.message.id).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].view.status, AttachmentStatus::Queued);
        assert_eq!(stored[0].data.as_deref(), Some(&[1u8, 2, 3][..]));
        assert!(stored[0].key.is_none());

        let key = [9u8; 64];
        store
            .mark_uploaded(&stored[0].view.id, "http://f/file/1", &key, &[4; 32], 6)
            .await
            .unwrap();
        let again = store.message_attachments(&queued.message.id).await.unwrap();
        assert_eq!(again[0].view.status, AttachmentStatus::Uploaded);
        assert_eq!(again[0].remote_url.as_deref(), Some("http://f/file/1"));
        assert_eq!(again[0].key.as_deref().map(|k| k.as_slice()), Some(&key[..]));
        let views = store.attachment_views(ME, &queued.message.id).await.unwrap();
        assert_eq!(views[0].url, format!("/v1/accounts/{ME}/attachments/{}", views[0].id));
    }

    async fn incoming_pointers_settle_once_with_sealed_keys() {
        let (store, _dir) = store().await;
        let mut tx = store.begin().await.unwrap();
        let stored = tx
            .insert_message(&message(Direction::Incoming, MessageStatus::Received), 5)
            .await
            .unwrap()
            .unwrap();
        let pointer = IncomingPointer {
            content_type: "text/plain".into(),
            file_name: None,
            size: 3,
            url: "http://f/file/2".into(),
            key: Zeroizing::new(vec![0xab; 64]),
            digest: Some(vec![1; 32]),
        };
        let views = tx
            .insert_incoming_attachments(ME, &stored.id, std::slice::from_ref(&pointer), 5)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let pending = store.pending_incoming_attachments(ME, 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].key.as_deref().map(|k| k.as_slice()), Some(&[0xab; 64][..]));
        assert_eq!(pending[0].remote_url.as_deref(), Some("http://f/file/2"));

        let mut tx = store.begin().await.unwrap();
        let done = tx
            .settle_incoming_attachment(&views[0].id, FetchOutcome::Rejected("tampered: bad hmac"), 6)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.status, AttachmentStatus::Failed);
        assert_eq!(done.failure_reason.as_deref(), Some("tampered: bad hmac"));
        // Settling again does nothing (one event per attachment).
        assert!(tx
            .settle_incoming_attachment(&views[0].id, FetchOutcome::Available(b"abc"), 7)
            .await
            .unwrap()
            .is_none());
        tx.commit().await.unwrap();
        // A verdict is final: a download request never queues a tampered attachment again.
        assert!(!store.requeue_unreachable_attachment(ME, &views[0].id, 8).await.unwrap());

        // Network weather is not: the attachment can be queued again (once), then settle.
        let mut tx = store.begin().await.unwrap();
        let views = tx
            .insert_incoming_attachments(ME, &stored.id, std::slice::from_ref(&pointer), 9)
            .await
            .unwrap();
        let failed = tx
            .settle_incoming_attachment(&views[0].id, FetchOutcome::Unreachable("network: 503"), 10)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(failed.status, AttachmentStatus::Failed);
        tx.commit().await.unwrap();
        assert!(store.requeue_unreachable_attachment(ME, &views[0].id, 11).await.unwrap());
        assert!(!store.requeue_unreachable_attachment(ME, &views[0].id, 12).await.unwrap());
        assert_eq!(store.pending_incoming_attachments(ME, 10).await.unwrap().len(), 1);
        let mut tx = store.begin().await.unwrap();
        let done = tx
            .settle_incoming_attachment(&views[0].id, FetchOutcome::Available(b"abc"), 13)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.status, AttachmentStatus::Available);
        tx.commit().await.unwrap();
    }

    async fn avatars_round_trip_and_the_image_is_cached_per_url() {
        let (store, _dir) = store().await;
        let avatar = Avatar {
            url: "http://f/file/3".into(),
            key: ProfileKey::from_bytes([5; 32]),
        };
        assert!(store.set_own_avatar(ME, Some(&avatar), 10_000).await.unwrap());
        let profile = store.own_profile(ME).await.unwrap();
        assert_eq!(profile.avatar.as_ref(), Some(&avatar));
        assert_eq!(profile.updated_seconds, Some(10));
        assert!(store.set_own_avatar(ME, None, 11_000).await.unwrap());
        assert!(store.own_profile(ME).await.unwrap().avatar.is_none());

        // Contacts: the conversation's profile names the avatar; the image is cached for that
        // URL only, so a profile naming another URL misses the cache.
        let newer = Avatar {
            url: "http://f/file/4".into(),
            key: ProfileKey::from_bytes([6; 32]),
        };
        assert!(store.contact_avatar(ME, PEER).await.unwrap().is_none());
        contact_profile(&store, &avatar, 100).await;
        store.cache_contact_avatar(ME, PEER, &avatar.url, b"img").await.unwrap();
        let known = store.contact_avatar(ME, PEER).await.unwrap().unwrap();
        assert_eq!(known.avatar, avatar);
        assert_eq!(known.image.as_deref(), Some(&b"img"[..]));
        assert_eq!(store.peers_with_avatars(ME).await.unwrap(), vec![PEER.to_owned()]);
        contact_profile(&store, &newer, 200).await;
        let known = store.contact_avatar(ME, PEER).await.unwrap().unwrap();
        assert_eq!(known.avatar, newer);
        assert!(known.image.is_none());
        // An image fetched from a URL the profile no longer names is not cached.
        store.cache_contact_avatar(ME, PEER, &avatar.url, b"old").await.unwrap();
        assert!(store.contact_avatar(ME, PEER).await.unwrap().unwrap().image.is_none());
    }
}
