//! LISTEN/NOTIFY between replicas (design.md §6, `src/store/notify.rs`): a message queued
//! through replica B's API, for an account whose lease replica A holds, is sent by A promptly,
//! and the reason is the notice B's commit sent over PostgreSQL.
//!
//! Nothing else can explain a prompt send here. An Identity reads the queued messages of its
//! account only when it starts and when it is told `OutgoingQueued`. The leases last an hour
//! (renewed every 20 minutes), so no renewal, rebalance or takeover restarts A's Identity during
//! the test, which the test checks (same lease epoch, B holds nothing); the supervisor's
//! periodic reconcile starts missing Identities but never rescans queues. B's in-process
//! broadcast does not reach A (another `Store`, another pool): only the NOTIFY does, and A's
//! store is seen receiving it.
//!
//! PostgreSQL only: skipped without a cluster, failed with `REQUIRE_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use std::time::Duration;

use common::{eventually, Backend};
use gateway_support as gs;
use session_gateway::store::Notice;

/// Well below any periodic work (the supervisor reconciles every 15 s, leases renew every
/// 20 minutes): a send inside it is the notification's doing.
const PROMPT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_queued_on_another_replica_is_sent_by_the_owner_on_notify() {
    common::on(Backend::Postgres, async {
        let devnet = netsupport::devnet(8, 4).await;
        let master = common::master_key();
        let db_dir = tempfile::tempdir().unwrap();
        let mut settings = gs::settings(&master);
        settings.database.url = Some(common::database_url(db_dir.path()).await);
        settings.replicas.lease_ttl_ms = 3_600_000;
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

        // A alone: it takes the account's lease and runs its Identity.
        let mut a = gs::start(dir_a.path(), settings.clone(), &devnet).await;
        let account = a.create_account().await;
        let held_a = a.gateway.as_mut().unwrap().leases().unwrap().held();
        eventually(20, "A runs the account", || async {
            let running = a.gateway().identity_counts().unwrap().running == 1;
            (running && held_a.borrow().contains_key(account.as_str())).then_some(())
        })
        .await;
        let epoch = held_a.borrow()[account.as_str()].epoch;

        // B joins; one account over two replicas stays where it is.
        let mut b = gs::start(dir_b.path(), settings.clone(), &devnet).await;
        let held_b = b.gateway.as_mut().unwrap().leases().unwrap().held();
        assert!(held_b.borrow().is_empty());

        // Queue through B; A's store must hear of it from PostgreSQL.
        let mut notices = a.gateway().store().subscribe_notices();
        let peer = netsupport::identity().session_id().to_string();
        let queued_at = tokio::time::Instant::now();
        let id = b.send(&account, &peer, "queued on B, sent by A").await;
        eventually(PROMPT.as_secs(), "the message sent by A", || async {
            let history = b.history(&account).await;
            let message = history.into_iter().find(|m| m["id"] == id.as_str())?;
            (message["status"] == "sent").then_some(())
        })
        .await;
        let took = queued_at.elapsed();
        eprintln!("queued on B, sent by A after {took:?}");
        // A's store heard of it from PostgreSQL (the notice waits in A's broadcast).
        let heard = std::iter::from_fn(|| notices.try_recv().ok()).any(|n| {
            n == Notice::OutgoingQueued {
                account: account.clone(),
                peer: None,
                id: None,
            }
        });
        assert!(heard, "A never heard B's OutgoingQueued notice");

        // The owner did not change (no restart that would have read the queue), and B runs
        // nothing: A sent it.
        assert_eq!(held_a.borrow()[account.as_str()].epoch, epoch);
        assert!(held_b.borrow().is_empty());
        assert_eq!(b.gateway().identity_counts().unwrap().running, 0);
        assert_eq!(a.gateway().identity_counts().unwrap().restarts, 0);
        b.stop().await;
        a.stop().await;
        devnet.shutdown().await;
    })
    .await;
}
