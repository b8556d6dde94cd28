//! A message the account sent from another of its devices arrives as a sync copy (on its own
//! swarm, with `syncTarget`): the gateway records it as an outgoing, sent message to that
//! target. The other device is simulated with the network client and the account's keys.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;
use session_gateway::actors::keys::AccountKeys;
use session_gateway::actors::outgoing::{build_payload, DM_TTL_MS};
use session_gateway::ids::SessionIdText;
use session_gateway::protocol::storage::Namespace;

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sync_copy_from_another_device_appears_as_sent() {
        let devnet = netsupport::devnet(8, 4).await;
        let dir = tempfile::tempdir().unwrap();
        let master = common::master_key();
        let mut gw = gs::start(dir.path(), gs::settings(&master), &devnet).await;
        let me = netsupport::identity();
        let account = gw.import(&me).await;
        let peer = netsupport::identity().session_id().to_string();

        // The other device: same keys, its own network client.
        let id = SessionIdText::parse(&account).unwrap();
        let entropy = me.recovery_phrase().unwrap().entropy().to_vec();
        let keys = AccountKeys::from_stored_seed(&id, &entropy).unwrap();
        let payload = build_payload(
            &keys,
            &me.session_id(),
            "sent from my phone",
            1_700_000_000_000,
            None,
            Some(&peer),
            "phone-1",
        )
        .unwrap();
        let other_device = gs::network(&devnet);
        other_device
            .store(&keys.account, Namespace(0), &payload, DM_TTL_MS, None)
            .await
            .unwrap();

        let message = common::eventually(60, "the sync copy", || async {
            gw.history(&account).await.into_iter().next()
        })
        .await;
        assert_eq!(message["direction"], "outgoing");
        assert_eq!(message["status"], "sent");
        assert_eq!(message["to"], peer.as_str());
        assert_eq!(message["from"], account.as_str());
        assert_eq!(message["text"], "sent from my phone");
        assert_eq!(message["timestamp"], 1_700_000_000_000i64);
        let conversations = gw
            .admin(
                "GET",
                &format!("/v1/accounts/{account}/conversations"),
                None,
            )
            .await;
        assert_eq!(
            conversations.body["conversations"][0]["peer"],
            peer.as_str()
        );
        gw.stop().await;
        devnet.shutdown().await;
    }
}
