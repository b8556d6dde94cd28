//! Master key rotation (issue 15, `src/store/rotation.rs`): every secret the store sealed is
//! sealed again under the new key, the gateway then starts with the new key only, an
//! interrupted rotation (stopped after N rows) is finished by running it again, and nothing
//! starts or rotates while it is unfinished or while a gateway runs. Both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use session_gateway::app::{Gateway, GatewayOptions, StartError};
use session_gateway::identities::SessionIdentities;
use session_gateway::ids::SessionIdText;
use session_gateway::protocol::attachment::ProfileKey;
use session_gateway::protocol::chat::Avatar;
use session_gateway::store::attachments::{FetchOutcome, IncomingPointer};
use session_gateway::store::chat::ContactProfile;
use session_gateway::store::group_state::StoredConfig;
use session_gateway::store::messages::{new_message_id, Direction, MessageStatus, NewMessage};
use session_gateway::store::modes::{GroupRole, GroupState};
use session_gateway::store::rotation::{
    rotate_master_key, sealed_columns, RotateOptions, RotationError,
};
use session_gateway::store::webhooks::{Webhook, WebhookSecret};
use session_gateway::store::{MasterKey, Store, StoreError};
use zeroize::Zeroizing;

const ME: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
const GROUP: &str = "03aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";

/// What [`fill`] sealed, to compare after the rotation.
struct Secrets {
    attachment: String,
}

/// Writes one value into every sealed column (through the store's own writers), plus more
/// accounts so the rotation has several batches to do.
async fn fill(store: &Store) -> Secrets {
    let me = SessionIdText::parse(ME).unwrap();
    store.insert_account(&me, None, &[7; 16], 1).await.unwrap();
    for _ in 0..150 {
        let other = fresh_identity();
        store
            .insert_account(&other.0, None, &other.1, 1)
            .await
            .unwrap();
    }
    let avatar = Avatar {
        url: "http://files/me".into(),
        key: ProfileKey::from_bytes([3; 32]),
    };
    assert!(store.set_own_avatar(ME, Some(&avatar), 1).await.unwrap());
    store
        .insert_webhook(&Webhook {
            id: "wh_1".into(),
            url: "http://127.0.0.1:9/hook".into(),
            events: None,
            accounts: None,
            secrets: vec![WebhookSecret {
                secret: "whsec_c2VjcmV0".into(),
                expires_at: None,
            }],
            enabled: true,
            created_at: 1,
            updated_at: 1,
        })
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let sealed = store.seal_profile_key(ME, PEER, &[4; 32]);
    let profile = ContactProfile {
        name: Some("Peer"),
        avatar_url: Some("http://files/peer"),
        key_sealed: Some(&sealed),
        updated: Some(1),
    };
    tx.set_contact_profile(ME, PEER, &profile, 1).await.unwrap();
    let message = NewMessage {
        id: new_message_id(),
        account: ME.into(),
        peer: PEER.into(),
        author: PEER.into(),
        direction: Direction::Incoming,
        status: MessageStatus::Received,
        hash: Some("h1".into()),
        text: "with a file".into(),
        timestamp: 1,
        idempotency_key: None,
    };
    tx.insert_message(&message, 1).await.unwrap().unwrap();
    let pointer = IncomingPointer {
        content_type: "text/plain".into(),
        file_name: None,
        size: 5,
        url: "http://files/1".into(),
        key: Zeroizing::new(vec![5; 64]),
        digest: None,
    };
    let views = tx
        .insert_incoming_attachments(ME, &message.id, &[pointer], 1)
        .await
        .unwrap();
    tx.settle_incoming_attachment(&views[0].id, FetchOutcome::Available(b"bytes"), 1)
        .await
        .unwrap();
    tx.insert_group(GROUP, "Ops", 1).await.unwrap();
    tx.put_membership(
        store,
        ME,
        GROUP,
        GroupRole::Admin,
        GroupState::Joined,
        &[6; 32],
        None,
        1,
    )
    .await
    .unwrap();
    let config = |hash: &str| StoredConfig {
        hash: hash.into(),
        seqno: 1,
        data: Zeroizing::new(b"d1:#i1ee".to_vec()),
    };
    tx.add_group_config(store, GROUP, 13, &config("g1"), 1)
        .await
        .unwrap();
    tx.add_user_config(store, ME, 5, &config("u1"), 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Secrets {
        attachment: views[0].id.clone(),
    }
}

fn fresh_identity() -> (SessionIdText, Zeroizing<Vec<u8>>) {
    use session_gateway::identities::IdentityProvider as _;
    let identity = SessionIdentities.generate().unwrap();
    (identity.session_id, identity.seed)
}

/// Reads every secret back through the store (which opens each with its key).
async fn read_all(store: &Store, secrets: &Secrets) {
    let me = SessionIdText::parse(ME).unwrap();
    assert_eq!(&*store.account_seed(&me).await.unwrap().unwrap(), &[7; 16]);
    for account in store.list_accounts().await.unwrap() {
        assert!(store
            .account_seed(&account.session_id)
            .await
            .unwrap()
            .is_some());
    }
    let own = store.own_profile(ME).await.unwrap().avatar.unwrap();
    assert_eq!(own.key.expose_secret(), &[3; 32]);
    let hook = store.get_webhook("wh_1").await.unwrap().unwrap();
    assert_eq!(hook.secrets[0].secret, "whsec_c2VjcmV0");
    let peer = store.contact_avatar(ME, PEER).await.unwrap().unwrap();
    assert_eq!(peer.avatar.key.expose_secret(), &[4; 32]);
    let file = store
        .get_attachment(ME, &secrets.attachment)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(file.data.as_deref(), Some(&b"bytes"[..]));
    assert_eq!(file.key.as_deref().map(Vec::as_slice), Some(&[5; 64][..]));
    assert_eq!(
        &*store.group_secret(ME, GROUP).await.unwrap().unwrap(),
        &[6; 32]
    );
    assert_eq!(
        &*store.group_configs(GROUP, 13).await.unwrap()[0].data,
        b"d1:#i1ee"
    );
    assert_eq!(
        &*store.user_configs(ME, 5).await.unwrap()[0].data,
        b"d1:#i1ee"
    );
}

async fn open(url: &str, key: &MasterKey) -> Result<Store, StoreError> {
    Store::open(url, 4, key.clone()).await
}

both_backends! {
    async fn rotation_reseals_everything_and_an_interrupted_one_finishes_when_run_again() {
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let store = open(&url, &old).await.unwrap();
        let secrets = fill(&store).await;
        read_all(&store, &secrets).await;
        store.close().await;

        // Interrupted after 120 values (the account seeds take two batches).
        let stop = RotateOptions { max_rows: Some(120) };
        let first = rotate_master_key(&url, &old, &new, stop).await.unwrap();
        assert_eq!((first.resealed, first.finished), (120, false), "{first:?}");
        // Nothing starts while it is unfinished, with either key.
        for key in [&old, &new] {
            assert!(matches!(open(&url, key).await, Err(StoreError::RotationUnfinished)));
        }
        // Nor can another rotation to a third key, nor one run with the new key as the old.
        let third = MasterKey::generate();
        assert!(matches!(
            rotate_master_key(&url, &old, &third, RotateOptions::default()).await,
            Err(RotationError::OtherRotation)
        ));
        assert!(matches!(
            rotate_master_key(&url, &third, &new, RotateOptions::default()).await,
            Err(RotationError::WrongOldKey(_))
        ));

        // Run again: it finishes; what the first run did is found done, not sealed twice.
        let second = rotate_master_key(&url, &old, &new, RotateOptions::default())
            .await
            .unwrap();
        assert!(second.finished, "{second:?}");
        assert_eq!(second.already_new, 120, "{second:?}");
        // 151 seeds, 1 own avatar key, 1 webhook, 1 contact key, 2 attachment values, 1 group
        // secret, 2 configs.
        assert_eq!(first.resealed + second.resealed, 159, "{second:?}");

        // The old key no longer opens the database; the new one opens every secret.
        assert!(matches!(open(&url, &old).await, Err(StoreError::WrongMasterKey)));
        let store = open(&url, &new).await.unwrap();
        read_all(&store, &secrets).await;
        store.close().await;
        // Running it once more is harmless.
        let again = rotate_master_key(&url, &old, &new, RotateOptions::default())
            .await
            .unwrap();
        assert_eq!((again.resealed, again.finished), (0, true));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gateway_starts_with_the_new_key_only_and_blocks_a_rotation_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let start = |key: &MasterKey| {
            let mut settings = common::test_settings(&key.to_base64());
            settings.database.url = Some(url.clone());
            Gateway::start(GatewayOptions {
                settings,
                data_dir: dir.path().to_path_buf(),
                listen: "127.0.0.1:0".into(),
                identities: Arc::new(SessionIdentities),
            })
        };
        let gateway = start(&old).await.unwrap();
        let me = SessionIdText::parse(ME).unwrap();
        gateway.store().insert_account(&me, None, &[7; 16], 1).await.unwrap();
        // A running gateway's heartbeat refuses the rotation.
        common::eventually(10, "the gateway's heartbeat", || async {
            let now = gateway.store().db_now().await.unwrap();
            (!gateway.store().live_replicas(now).await.unwrap().is_empty()).then_some(())
        })
        .await;
        let refused = rotate_master_key(&url, &old, &new, RotateOptions::default()).await;
        assert!(matches!(refused, Err(RotationError::GatewayRunning(1))), "{refused:?}");
        gateway.stop().await;

        let report = rotate_master_key(&url, &old, &new, RotateOptions::default())
            .await
            .unwrap();
        assert!(report.finished && report.resealed == 1, "{report:?}");
        assert!(matches!(
            start(&old).await,
            Err(StartError::Store(StoreError::WrongMasterKey))
        ));
        let gateway = start(&new).await.unwrap();
        assert_eq!(&*gateway.store().account_seed(&me).await.unwrap().unwrap(), &[7; 16]);
        gateway.stop().await;
    }
}

/// Every column the migrations declare `*_sealed` (and the sealed attachment bytes) is one the
/// rotation re-seals: a new sealed column without a rotation entry fails here.
#[test]
fn every_sealed_column_is_rotated() {
    let mut declared = BTreeSet::from([("attachments".to_owned(), "data".to_owned())]);
    for entry in std::fs::read_dir("migrations/sqlite").unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut table = String::new();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("--")) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["CREATE", "TABLE", name, ..] | ["ALTER", "TABLE", name, ..] => {
                    table = (*name).to_owned();
                }
                _ => {}
            }
            for word in &words {
                let word = word.trim_end_matches(',');
                if word.ends_with("_sealed") && !word.starts_with("data_sealed") {
                    declared.insert((table.clone(), word.to_owned()));
                }
                if word == "data_sealed" && line.contains("BLOB") {
                    declared.insert((table.clone(), word.to_owned()));
                }
            }
        }
    }
    let rotated: BTreeSet<(String, String)> = sealed_columns()
        .into_iter()
        .map(|(t, c)| (t.to_owned(), c.to_owned()))
        .collect();
    assert_eq!(declared, rotated);
}
