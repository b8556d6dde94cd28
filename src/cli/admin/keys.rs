//! `api-keys create` and `webhooks replay`: the API's key minting and delivery replay
//! (`POST /v1/api-keys`, `POST /v1/webhooks/{id}/replay`), from the command line.

use serde::Serialize;

use super::{json, AdminError, Target};
use crate::clock::now_ms;
use crate::store::api_keys::{valid_name, Scope, MAX_NAME_CHARS};
use crate::store::events::{parse_event_id, ReplayFilter};

/// `api-keys …`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApiKeysCommand {
    /// Create a scoped API key; the key is printed once and never stored.
    Create {
        /// A label for the key (shown by `GET /v1/api-keys`).
        #[arg(long)]
        name: Option<String>,
        /// A scope, repeatable: `admin`, `accounts:<session_id>:read`,
        /// `accounts:<session_id>:send` (at least one).
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
        #[command(flatten)]
        target: Target,
    },
}

/// `webhooks …`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum WebhooksCommand {
    /// Re-queue a webhook's deliveries: its dead ones, or with --since every event from that
    /// one on (including events it never had).
    Replay {
        /// The webhook's id (`wh_…`).
        webhook_id: String,
        /// The first event to send again (`evt_N`).
        #[arg(long, value_name = "EVENT_ID")]
        since: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

/// What `webhooks replay` prints.
#[derive(Serialize)]
struct Replayed {
    webhook_id: String,
    requeued: u64,
}

/// What `api-keys create` prints.
#[derive(Serialize)]
struct Created {
    id: String,
    name: Option<String>,
    scopes: Vec<String>,
    created_at: i64,
    key: String,
}

pub(super) async fn api_keys(command: ApiKeysCommand) -> Result<String, AdminError> {
    let ApiKeysCommand::Create {
        name,
        scopes,
        target,
    } = command;
    if name.as_deref().is_some_and(|n| !valid_name(n)) {
        return Err(AdminError::Invalid(format!(
            "--name must be at most {MAX_NAME_CHARS} characters, no control characters"
        )));
    }
    let scopes = scopes
        .iter()
        .map(|s| Scope::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
    let store = target.open().await?;
    let (record, key) = store
        .create_api_key(name.as_deref(), &scopes, now_ms())
        .await?;
    json(&Created {
        id: record.id,
        name: record.name,
        scopes: record.scopes,
        created_at: record.created_at,
        key: key.to_string(),
    })
}

pub(super) async fn webhooks(command: WebhooksCommand) -> Result<String, AdminError> {
    let WebhooksCommand::Replay {
        webhook_id,
        since,
        target,
    } = command;
    let from_cursor = since
        .as_deref()
        .map(|s| {
            parse_event_id(s).ok_or_else(|| {
                AdminError::Invalid(format!("--since {s:?} is not an event id (evt_N)"))
            })
        })
        .transpose()?;
    let store = target.open().await?;
    if store.get_webhook(&webhook_id).await?.is_none() {
        return Err(AdminError::NotFound(format!("webhook {webhook_id}")));
    }
    let requeued = store
        .replay_deliveries(&webhook_id, &ReplayFilter { from_cursor }, now_ms())
        .await?;
    // The replay announces itself (LISTEN/NOTIFY reaches PostgreSQL replicas at once); on
    // SQLite a running gateway's idle workers find the rows within 30 s.
    json(&Replayed {
        webhook_id,
        requeued,
    })
}
