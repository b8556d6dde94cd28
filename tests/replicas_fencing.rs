//! Fenced writes (design.md §6): an Identity whose account lease moved to another replica,
//! before its own lease manager noticed, cannot commit for the account. Its poll commit (and
//! its Conversation's status update) fail with `LeaseLost`, and the actor stops quietly: it is
//! not restarted, and nothing it retrieved or sent is recorded under the stale lease.
//!
//! The lease TTL is an hour, so the manager does not renew (and notice) during the test; the
//! "other replica" takes the lease directly in the database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use common::eventually;
use gateway_support as gs;

const HOUR_MS: i64 = 3_600_000;

/// Moves `account`'s lease from `gw` to a replica called `thief`, behind the manager's back.
async fn steal(gw: &mut gs::Gw, account: &str) {
    let held = gw.gateway.as_mut().unwrap().leases().unwrap().held();
    let token = held.borrow().get(account).cloned().unwrap();
    let store = gw.gateway().store();
    let now = store.db_now().await.unwrap();
    // In one step: a release then an acquire would leave a moment where the gateway's own
    // lease manager could take the account back first.
    let taken = store
        .hand_over_lease(&token, "thief", now, now + HOUR_MS)
        .await
        .unwrap()
        .expect("the lease was held");
    assert_eq!(&*taken.account, account);
    assert!(taken.epoch > token.epoch);
}

fn counts(gw: &gs::Gw) -> (usize, usize, u64) {
    let c = gw.gateway().identity_counts().unwrap();
    (c.running, c.restarting, c.restarts)
}

both_backends! {
    async fn an_identity_that_lost_its_lease_commits_nothing_and_stops_quietly() {
        let devnet = netsupport::devnet(12, 4).await;
        let dir = tempfile::tempdir().unwrap();
        let mut settings = gs::settings(&common::master_key());
        settings.database.url = Some(common::database_url(dir.path()).await);
        settings.replicas.lease_ttl_ms = 3_600_000;
        let mut gw = gs::start(dir.path(), settings, &devnet).await;
        let a = gw.create_account().await;
        let b = gw.create_account().await;
        eventually(20, "both running", || async { (counts(&gw) == (2, 0, 0)).then_some(()) })
            .await;

        // b's lease moves: a's message reaches b's swarm, but b's poll commit is fenced out.
        steal(&mut gw, &b).await;
        gw.send(&a, &b, "one").await;
        eventually(20, "a's message sent", || async {
            let history = gw.history(&a).await;
            (gs::texts(&history, "outgoing", "sent") == ["one"]).then_some(())
        })
        .await;
        eventually(20, "b stopped", || async { (counts(&gw) == (1, 0, 0)).then_some(()) })
            .await;
        let history = gw.history(&b).await;
        assert!(
            gs::texts(&history, "incoming", "received").is_empty(),
            "b committed under a lost lease: {history:?}"
        );

        // a's lease moves: the send goes out, but its status update is fenced out, so the
        // message stays queued for the new owner (which resends byte-identical data).
        steal(&mut gw, &a).await;
        gw.send(&a, &b, "two").await;
        eventually(20, "a stopped", || async { (counts(&gw) == (0, 0, 0)).then_some(()) })
            .await;
        let history = gw.history(&a).await;
        assert_eq!(gs::texts(&history, "outgoing", "queued"), ["two"]);
        gw.stop().await;
    }
}
