//! The supervisor follows accounts: created or imported → an Identity runs; paused or deleted
//! → it stops; an account that cannot start (its stored seed does not match its Session ID) is
//! restarted with backoff and counted, without disturbing the others.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;
use serde_json::json;
use session_gateway::ids::SessionIdText;

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identities_follow_accounts_and_broken_ones_restart() {
        let devnet = netsupport::devnet(8, 4).await;
        let dir = tempfile::tempdir().unwrap();
        let master = common::master_key();
        let mut gw = gs::start(dir.path(), gs::settings(&master), &devnet).await;
        let counts = |gw: &gs::Gw| gw.gateway().identity_counts().unwrap();
        let running = |n: usize| {
            let gw = &gw;
            move || async move { (counts(gw).running == n).then_some(()) }
        };

        let a = gw.create_account().await;
        let b = gw.create_account().await;
        common::eventually(30, "two identities", running(2)).await;
        let ready = gw.admin("GET", "/readyz", None).await;
        assert_eq!(ready.body["identities"]["running"], 2);
        // Paths are built as requests need them: ready (not degraded) once one is up.
        common::eventually(30, "network usable", || async {
            let ready = gw.admin("GET", "/readyz", None).await;
            (ready.body["status"] == "ready" && ready.body["network"]["usable"] == true)
                .then_some(())
        })
        .await;

        let paused = gw
            .admin(
                "PATCH",
                &format!("/v1/accounts/{a}"),
                Some(json!({"status": "paused"})),
            )
            .await;
        assert_eq!(paused.status, 200, "{}", paused.body);
        common::eventually(30, "paused account stopped", running(1)).await;
        gw.admin(
            "PATCH",
            &format!("/v1/accounts/{a}"),
            Some(json!({"status": "active"})),
        )
        .await;
        common::eventually(30, "resumed account running", running(2)).await;
        assert_eq!(
            gw.admin("DELETE", &format!("/v1/accounts/{b}"), None)
                .await
                .status,
            204
        );
        common::eventually(30, "deleted account stopped", running(1)).await;

        // A row whose seed does not belong to its Session ID: the Identity fails at start and is
        // restarted with backoff; the supervisor reconciles it from the database on its own.
        let broken = SessionIdText::parse(&format!("05{}", "ab".repeat(32))).unwrap();
        gw.gateway()
            .store()
            .insert_account(&broken, None, &[7u8; 16], 0)
            .await
            .unwrap();
        gw.gateway().identity_counts().unwrap();
        common::eventually(60, "the broken account to be restarted", || async {
            (counts(&gw).restarts >= 2).then_some(())
        })
        .await;
        assert_eq!(counts(&gw).running + counts(&gw).restarting, 2);
        gw.stop().await;
        devnet.shutdown().await;
    }
}
