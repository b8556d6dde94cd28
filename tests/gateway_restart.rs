//! The gateway is killed in the middle of a burst and restarted on the same data directory and
//! database (on PostgreSQL: the same database of the test cluster): every accepted message is
//! still sent exactly once (a re-send after the crash is byte-identical, so the swarm and the
//! recipient de-duplicate it) and received exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use std::collections::HashSet;

use gateway_support as gs;

const N: usize = 150;

/// The suite's settings with 2 s account leases. On PostgreSQL the restarted gateway is a new
/// replica, which takes the accounts once the killed one's leases expire (SQLite, one replica
/// by definition, takes them at once): a short lease keeps that wait short.
fn settings(master: &str) -> session_gateway::config::Settings {
    let mut settings = gs::settings(master);
    settings.replicas.lease_ttl_ms = 2_000;
    settings
}

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crash_mid_burst_loses_nothing() {
        let devnet = netsupport::devnet(12, 4).await;
        let dir = tempfile::tempdir().unwrap();
        let master = common::master_key();
        let mut gw = gs::start(dir.path(), settings(&master), &devnet).await;
        let a = gw.create_account().await;
        let b = gw.create_account().await;
        for i in 0..N {
            gw.send(&a, &b, &format!("burst {i}")).await;
        }
        // Kill once some, but not all, are confirmed.
        common::eventually(60, "a few messages sent", || async {
            let sent = gs::texts(&gw.history(&a).await, "outgoing", "sent").len();
            (sent >= 5).then_some(())
        })
        .await;
        gw.kill().await;
        // Everything after the crash runs on the database the first gateway used.
        let url = gw.database_url.clone();
        let same_database = || {
            let mut same = settings(&master);
            same.database.url = Some(url.clone());
            same
        };
        // Read what the crash left behind, from a gateway without network (nothing moves).
        let after_crash = {
            let idle = common::start_in(dir.path(), same_database())
                .await
                .unwrap();
            let sent = idle
                .store()
                .list_messages(&a, None, None, 1000)
                .await
                .unwrap();
            let n = sent.iter().filter(|m| m.status.as_str() == "sent").count();
            idle.stop().await;
            n
        };
        assert!(after_crash < N, "the burst was over before the crash");
        eprintln!("{after_crash} of {N} sent when the gateway was killed");

        let mut gw = gs::start(dir.path(), same_database(), &devnet).await;
        let history = common::eventually(240, "every message sent and received", || async {
            let sent = gs::texts(&gw.history(&a).await, "outgoing", "sent").len();
            let got = gs::texts(&gw.history(&b).await, "incoming", "received");
            (sent == N && got.len() >= N).then_some(got)
        })
        .await;
        let unique: HashSet<&String> = history.iter().collect();
        assert_eq!(history.len(), N, "received twice: {history:?}");
        assert_eq!(unique.len(), N);
        let a_history = gw.history(&a).await;
        assert_eq!(a_history.len(), N, "sync copies must not add rows");
        gw.stop().await;
        devnet.shutdown().await;
    }
}
