//! Secrets at rest: the database never holds a phrase, seed or webhook secret in the clear, and
//! the gateway refuses to start without the master key or with another one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use common::{data_dir_contains, master_key, spawn, start_in};
use serde_json::json;
use session_gateway::app::StartError;
use session_gateway::protocol::phrase::RecoveryPhrase;
use session_gateway::store::StoreError;

/// Waits (with a deadline) until SQLite has folded its write-ahead log into the database file
/// and removed it: the last connection does that as it closes, on sqlx's worker thread, which
/// can finish just after `stop()` returns. Scanning during that moment could read the database
/// before the checkpoint and find the log already gone.
async fn wait_for_wal_checkpoint(dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let wal_left = std::fs::read_dir(dir)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().ends_with("-wal"));
        if !wal_left {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SQLite log never checkpointed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

both_backends! {
    async fn phrases_seeds_and_webhook_secrets_are_encrypted_on_disk() {
        let mut gw = spawn().await;
        let (id, phrase) = gw.create_account().await;
        let hook = gw
            .admin(
                "POST",
                "/v1/webhooks",
                Some(json!({"url": "http://127.0.0.1:9/x"})),
            )
            .await;
        let secret = hook.body["secret"].as_str().unwrap().to_owned();
        gw.stop().await;
        let storage = gw.storage_dir().await;
        wait_for_wal_checkpoint(&storage).await;

        let seed = *RecoveryPhrase::parse(&phrase).unwrap().entropy();
        assert!(
            data_dir_contains(&storage, id.as_bytes()),
            "sanity: the scan sees plaintext"
        );
        assert!(
            !data_dir_contains(&storage, phrase.as_bytes()),
            "phrase on disk"
        );
        assert!(!data_dir_contains(&storage, &seed), "seed on disk");
        assert!(
            !data_dir_contains(&storage, secret.as_bytes()),
            "webhook secret on disk"
        );

        // The right key opens everything again after a restart.
        let restarted = start_in(gw.dir.path(), gw.settings())
            .await
            .unwrap();
        let reply = reqwest::Client::new()
            .get(format!("{}/v1/accounts/{id}/phrase", restarted.base_url()))
            .bearer_auth(common::ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        assert_eq!(reply["phrase"], phrase.as_str());
        restarted.stop().await;
    }
}

both_backends! {
    async fn a_wrong_or_missing_master_key_refuses_to_start() {
        let mut gw = spawn().await;
        gw.create_account().await;
        gw.stop().await;

        let wrong = start_in(gw.dir.path(), gw.settings_with(&master_key())).await;
        assert!(
            matches!(wrong, Err(StartError::Store(StoreError::WrongMasterKey))),
            "{:?}",
            wrong.err()
        );

        let mut missing = gw.settings();
        missing.security.master_key = None;
        let result = start_in(gw.dir.path(), missing).await;
        assert!(matches!(result, Err(StartError::MissingMasterKey)));

        let result = start_in(gw.dir.path(), gw.settings_with("c2hvcnQ=")).await;
        assert!(matches!(result, Err(StartError::BadMasterKey(_))));

        let mut no_admin = gw.settings();
        no_admin.api.admin_key = None;
        assert!(matches!(
            start_in(gw.dir.path(), no_admin).await,
            Err(StartError::MissingAdminKey)
        ));
    }
}

both_backends! {
    async fn attachment_bytes_are_encrypted_on_disk() {
        use rand::RngCore as _;
        use session_gateway::store::attachments::{FetchOutcome, IncomingPointer, NewAttachment};
        use session_gateway::store::messages::{
            new_message_id, Direction, MessageStatus, NewMessage,
        };
        const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
        let mut gw = spawn().await;
        let (id, _) = gw.create_account().await;
        let (mut sent, mut fetched) = ([0u8; 48], [0u8; 48]);
        rand::rngs::OsRng.fill_bytes(&mut sent);
        rand::rngs::OsRng.fill_bytes(&mut fetched);
        let message = |direction, status| NewMessage {
            id: new_message_id(),
            account: id.clone(),
            peer: PEER.into(),
            author: id.clone(),
            direction,
            status,
            hash: Some(new_message_id()),
            text: String::new(),
            timestamp: 1_000,
            idempotency_key: None,
        };
        let file = NewAttachment {
            content_type: "application/octet-stream".into(),
            file_name: None,
            data: sent.to_vec(),
        };
        let store = gw.store().clone();
        let queued = store
            .enqueue_outgoing_with(&message(Direction::Outgoing, MessageStatus::Queued),
                                   None, &[file], 5)
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        let incoming = tx
            .insert_message(&message(Direction::Incoming, MessageStatus::Received), 5)
            .await
            .unwrap()
            .unwrap();
        let pointer = IncomingPointer {
            content_type: "text/plain".into(),
            file_name: None,
            size: 48,
            url: "http://f/file/1".into(),
            key: zeroize::Zeroizing::new(vec![0xab; 64]),
            digest: None,
        };
        let views = tx
            .insert_incoming_attachments(&id, &incoming.id, std::slice::from_ref(&pointer), 5)
            .await
            .unwrap();
        tx.settle_incoming_attachment(&views[0].id, FetchOutcome::Available(&fetched), 6)
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        // Read back through the store: the bytes open.
        let out = store.message_attachments(&queued.message.id).await.unwrap();
        assert_eq!(out[0].data.as_deref(), Some(&sent[..]));
        let got = store.get_attachment(&id, &views[0].id).await.unwrap().unwrap();
        assert_eq!(got.data.as_deref(), Some(&fetched[..]));
        drop(store);
        gw.stop().await;
        let storage = gw.storage_dir().await;
        wait_for_wal_checkpoint(&storage).await;
        assert!(!data_dir_contains(&storage, &sent), "outgoing attachment on disk");
        assert!(!data_dir_contains(&storage, &fetched), "fetched attachment on disk");
    }
}
