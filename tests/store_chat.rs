//! The chat state in the store (migration 0003): control messages wait in the conversation's
//! queue in order and stay out of history, a newer typing state supersedes a queued one, read
//! receipts cover a message once, held requests are released or dropped, disappearing messages
//! expire once, and contact profile keys are sealed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use session_gateway::store::chat::{ControlBody, TextExtras};
use session_gateway::store::messages::{new_message_id, Direction, MessageStatus, NewMessage};
use session_gateway::store::modes::{ExpireMode, GroupInvites};
use session_gateway::store::Store;

const ME: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";

async fn store() -> (Store, tempfile::TempDir) {
    common::store_with_account(ME).await
}

fn message(direction: Direction, ts: i64, text: &str) -> NewMessage {
    let (status, hash) = match direction {
        Direction::Incoming => (MessageStatus::Received, Some(format!("h{ts}"))),
        Direction::Outgoing => (MessageStatus::Queued, None),
    };
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
        hash,
        text: text.into(),
        timestamp: ts,
        idempotency_key: None,
    }
}

async fn insert(store: &Store, m: &NewMessage) -> String {
    let mut tx = store.begin().await.unwrap();
    let stored = tx.insert_message(m, m.timestamp).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    stored.id
}

both_backends! {
    async fn control_messages_queue_in_order_and_typing_supersedes() {
        let (store, _dir) = store().await;
        let text = store
            .enqueue_outgoing(&message(Direction::Outgoing, 1_000, "first"), 1_000)
            .await
            .unwrap()
            .message;
        let reaction = ControlBody::Reaction {
            target_ts: 5,
            target_author: PEER.into(),
            emoji: "👍".into(),
            remove: false,
        };
        store
            .enqueue_control(ME, PEER, &reaction, 1_001)
            .await
            .unwrap();
        let older = ControlBody::Typing { typing: true };
        store
            .enqueue_control(ME, PEER, &older, 1_002)
            .await
            .unwrap();
        let newer = ControlBody::Typing { typing: false };
        let newest = store
            .enqueue_control(ME, PEER, &newer, 1_003)
            .await
            .unwrap();

        // The text message first; control rows never in history.
        let head = store.next_queued(ME, PEER).await.unwrap().unwrap();
        assert_eq!(head.id, text.id);
        assert_eq!(head.control, None);
        // What the conversation actor decides with: no files to read, more rows behind.
        assert!(!head.has_files);
        assert!(head.queued_behind);
        let history = store.list_messages(ME, None, None, 50).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].id, text.id);

        // Settle the head and the reaction: the only typing row left is the newest.
        let mut tx = store.begin().await.unwrap();
        tx.settle_outgoing(&text.id, MessageStatus::Sent, Some("h"), None, None, 2)
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        let next = store.next_queued(ME, PEER).await.unwrap().unwrap();
        assert_eq!(next.control, Some(reaction));
        // Outgoing timestamps stay distinct (Session names messages by them).
        assert!(next.timestamp > text.timestamp);
        let mut tx = store.begin().await.unwrap();
        tx.settle_outgoing(&next.id, MessageStatus::Sent, Some("h2"), None, None, 3)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let last = store.next_queued(ME, PEER).await.unwrap().unwrap();
        assert_eq!(last.id, newest);
        assert_eq!(last.control, Some(newer));
        assert!(!last.queued_behind, "the last queued row has nothing behind it");
    }

    async fn read_receipts_cover_a_message_once() {
        let (store, _dir) = store().await;
        insert(&store, &message(Direction::Incoming, 10, "a")).await;
        insert(&store, &message(Direction::Incoming, 20, "b")).await;
        insert(&store, &message(Direction::Incoming, 30, "c")).await;
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.mark_read_by_us(ME, PEER, 20, 100).await.unwrap(),
            [10, 20]
        );
        assert_eq!(
            tx.mark_read_by_us(ME, PEER, i64::MAX, 101).await.unwrap(),
            [30]
        );
        assert!(tx
            .mark_read_by_us(ME, PEER, i64::MAX, 102)
            .await
            .unwrap()
            .is_empty());
        tx.commit().await.unwrap();
        let history = store.list_messages(ME, None, None, 50).await.unwrap();
        assert!(history.iter().all(|m| m.read_at.is_some()));
    }

    async fn held_messages_are_released_or_dropped() {
        let (store, _dir) = store().await;
        let held = insert(&store, &message(Direction::Incoming, 10, "held")).await;
        let mut tx = store.begin().await.unwrap();
        tx.hold_message(&held).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store
            .list_messages(ME, None, None, 50)
            .await
            .unwrap()
            .is_empty());
        let mut tx = store.begin().await.unwrap();
        let released = tx.release_held(ME, PEER).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(released.len(), 1);
        assert_eq!(
            store.list_messages(ME, None, None, 50).await.unwrap().len(),
            1
        );

        let again = insert(&store, &message(Direction::Incoming, 20, "dropped")).await;
        let mut tx = store.begin().await.unwrap();
        tx.hold_message(&again).await.unwrap();
        assert_eq!(tx.drop_held(ME, PEER).await.unwrap(), 1);
        tx.commit().await.unwrap();
        assert!(store.get_message(ME, &again).await.unwrap().is_none());
    }

    async fn disappearing_messages_expire_once() {
        let (store, _dir) = store().await;
        let extras = TextExtras {
            quote: None,
            expire_mode: ExpireMode::AfterSend,
            expire_seconds: 2,
        };
        let sent = store
            .enqueue_outgoing_with(
                &message(Direction::Outgoing, 1_000, "bye"),
                Some(&extras),
                &[],
                1_000,
            )
            .await
            .unwrap()
            .message;
        let shown = store.get_message(ME, &sent.id).await.unwrap().unwrap();
        assert_eq!(shown.expires_at, Some(sent.timestamp + 2_000));
        assert!(store
            .expired_messages(sent.timestamp + 1_999, 10)
            .await
            .unwrap()
            .is_empty());
        let due = store
            .expired_messages(sent.timestamp + 2_000, 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        let mut tx = store.begin().await.unwrap();
        assert!(tx
            .delete_expired(&sent.id, sent.timestamp + 2_000)
            .await
            .unwrap());
        assert!(!tx
            .delete_expired(&sent.id, sent.timestamp + 2_000)
            .await
            .unwrap());
        tx.commit().await.unwrap();
    }

    async fn profile_keys_are_sealed_per_contact() {
        let (store, _dir) = store().await;
        let sealed = store.seal_profile_key(ME, PEER, &[9; 32]);
        assert!(!sealed.windows(32).any(|w| w == [9; 32]));
        assert_eq!(
            store
                .open_profile_key(ME, PEER, &sealed)
                .unwrap()
                .as_slice(),
            &[9; 32]
        );
        assert!(store.open_profile_key(ME, ME, &sealed).is_err());
    }

    // A transaction reads the account's chat settings once (every delivered message asks), and
    // again after it changed them.
    async fn a_transaction_sees_its_own_change_of_the_chat_settings() {
        let (store, _dir) = store().await;
        let mut tx = store.begin().await.unwrap();
        let before = tx.chat_settings(ME).await.unwrap().expect("the account");
        let other = match before.group_invites {
            GroupInvites::Hold => GroupInvites::AutoAccept,
            _ => GroupInvites::Hold,
        };
        tx.set_group_invites(ME, other).await.unwrap();
        let after = tx.chat_settings(ME).await.unwrap().expect("the account");
        assert_eq!(after.group_invites, other);
        assert_eq!(after.read_receipts, before.read_receipts);
        assert!(tx.chat_settings(PEER).await.unwrap().is_none(), "no such account");
        assert_eq!(tx.chat_settings(ME).await.unwrap(), Some(after));
        tx.commit().await.unwrap();
        let stored = store.chat_settings(ME).await.unwrap().unwrap();
        assert_eq!(stored.group_invites, other);
    }
}
