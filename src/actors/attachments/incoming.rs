//! Receiving files: the pointers of an incoming message are recorded `queued` in its
//! transaction (the chat domain's [`crate::chat::incoming::IncomingParts`]); the [`Fetcher`]
//! downloads them in the background and the [`Refetcher`] queues again the ones network
//! weather stopped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{download, TransferError, FETCH_ATTEMPTS, FETCH_CONCURRENCY};
use crate::actors::{ActorError, Deps};
use crate::clock::now_ms;
use crate::events::EventData;
use crate::protocol::chat::pointer::AttachmentInfo;
use crate::protocol::chat::pointer::PointerKey;
use crate::store::attachments::{FetchOutcome, StoredAttachment};
use crate::store::events::NewEvent;
use crate::store::StoreError;

/// Downloads queued incoming attachments in the background, a few at a time. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    permits: Arc<Semaphore>,
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self {
            permits: Arc::new(Semaphore::new(FETCH_CONCURRENCY)),
            in_flight: Arc::default(),
        }
    }
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").finish_non_exhaustive()
    }
}

impl Fetcher {
    /// Starts fetching every queued incoming attachment of every account (at start-up).
    pub fn sweep(&self, deps: &Deps) {
        let fetcher = self.clone();
        let task_deps = deps.clone();
        deps.io.spawn(async move {
            match task_deps.store.accounts_with_pending_attachments().await {
                Ok(accounts) => {
                    for account in accounts {
                        fetcher.kick(&task_deps, &account);
                    }
                }
                Err(error) => tracing::warn!(%error, "could not list pending attachments"),
            }
        });
    }

    /// Starts fetching every queued incoming attachment of `account` not already in flight.
    pub fn kick(&self, deps: &Deps, account: &str) {
        let fetcher = self.clone();
        let task_deps = deps.clone();
        let account = account.to_owned();
        deps.io.spawn(async move {
            let pending = match task_deps
                .store
                .pending_incoming_attachments(&account, 100)
                .await
            {
                Ok(pending) => pending,
                Err(error) => {
                    tracing::warn!(%error, "could not list pending attachments");
                    return;
                }
            };
            for stored in pending {
                let fresh = fetcher
                    .in_flight
                    .lock()
                    .map(|mut set| set.insert(stored.view.id.clone()))
                    .unwrap_or(false);
                if fresh {
                    let fetcher = fetcher.clone();
                    let deps = task_deps.clone();
                    let account = account.clone();
                    task_deps.io.spawn(async move {
                        let id = stored.view.id.clone();
                        if let Ok(_permit) = fetcher.permits.acquire().await {
                            if let Err(error) = fetch_one(&deps, &account, stored).await {
                                tracing::warn!(%error, "attachment fetch not recorded");
                            }
                        }
                        if let Ok(mut set) = fetcher.in_flight.lock() {
                            set.remove(&id);
                        }
                    });
                }
            }
        });
    }
}

/// Rebuilds the pointer of a queued incoming attachment.
fn incoming_info(stored: &StoredAttachment) -> Result<AttachmentInfo, TransferError> {
    let key: &[u8] = stored.key.as_deref().map_or(&[], |k| k.as_slice());
    let pointer = crate::protocol::protos::AttachmentPointer {
        url: stored.remote_url.clone(),
        key: Some(key.to_vec()),
        digest: stored.digest.clone(),
        size: u32::try_from(stored.view.size).ok(),
        ..Default::default()
    };
    Ok(AttachmentInfo::parse(&pointer)?)
}

async fn fetch_one(deps: &Deps, account: &str, stored: StoredAttachment) -> Result<(), ActorError> {
    let mut outcome = Err(TransferError::NotFound);
    for attempt in 0..FETCH_ATTEMPTS {
        outcome = match incoming_info(&stored) {
            Ok(info) if info.key == PointerKey::None => {
                super::rooms::download(deps, account, &stored, &info).await
            }
            Ok(info) => download(&deps.network, &info).await,
            Err(error) => Err(error),
        };
        match &outcome {
            Err(error) if error.is_retryable() => {
                deps.store
                    .count_fetch_attempt(&stored.view.id, now_ms())
                    .await?;
                tracing::debug!(%error, attempt, "attachment download failed; retrying");
                // Back off between attempts (network weather, not synchronisation).
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(6))).await;
            }
            _ => break,
        }
    }
    let reason = outcome.as_ref().err().map(ToString::to_string);
    let reason = reason.as_deref().unwrap_or("failed");
    let settled = match &outcome {
        Ok(data) => FetchOutcome::Available(data),
        Err(error) if error.is_retryable() => FetchOutcome::Unreachable(reason),
        Err(_) => FetchOutcome::Rejected(reason),
    };
    let now = now_ms();
    let message = deps
        .store
        .get_message(account, &stored.view.message_id)
        .await?;
    let mut tx = deps.store.begin().await?;
    let Some(view) = tx
        .settle_incoming_attachment(&stored.view.id, settled, now)
        .await?
    else {
        return Ok(());
    };
    let available = view.status == crate::store::attachments::AttachmentStatus::Available;
    tx.append_event(&NewEvent {
        account: Some(account.to_owned()),
        conversation: message.map(|m| m.conversation),
        timestamp: now,
        data: EventData::attachment(available, &view).map_err(corrupt)?,
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

fn corrupt(e: serde_json::Error) -> ActorError {
    ActorError::Store(StoreError::Corrupt(e.to_string()))
}

/// Every `attachment_retry_ms`, queues again the incoming attachments whose download failed
/// for network reasons at least that long ago and starts fetching them; tampered or refused
/// ones stay failed. One per replica (an actor, so it stops with the gateway).
pub type Refetcher = crate::actors::ticker::Ticker<Refetch>;

/// The [`Refetcher`]'s round.
pub struct Refetch;

impl crate::actors::ticker::Periodic for Refetch {
    type Error = ActorError;

    fn interval(settings: &crate::actors::ActorSettings) -> Duration {
        Duration::from_millis(settings.attachment_retry_ms)
    }

    async fn round(deps: Deps) -> Result<(), ActorError> {
        let every = i64::try_from(deps.settings.attachment_retry_ms).unwrap_or(i64::MAX);
        let now = now_ms();
        let accounts = deps
            .store
            .requeue_unreachable_attachments(now.saturating_sub(every), now)
            .await?;
        for account in &accounts {
            deps.attachments.kick(&deps, account);
        }
        Ok(())
    }

    fn failed(error: &dyn std::fmt::Display) {
        tracing::warn!(%error, "requeueing unreachable attachments failed");
    }
}
