//! `accounts list|export|import`: the accounts of the configured database, and moving an
//! account (its keys, name, status and chat settings) from one gateway to another.
//!
//! The export file is one JSON object ([`Export`]); import takes that object, or an array of
//! them, from a file or stdin. An export holds the account's recovery phrase and seed in the
//! clear: whoever reads it controls the account, so `export` says so on stderr.

use std::io::Read as _;

use serde::{Deserialize, Serialize};

use super::{json, AdminError, Target};
use crate::clock::now_ms;
use crate::identities::{session_id_of_seed, IdentityProvider, SessionIdentities};
use crate::ids::SessionIdText;
use crate::store::accounts::{AccountPatch, AccountStatus};
use crate::store::health::FLUSH_MS;
use crate::store::modes::{GroupInvites, MessageRequests, ReadReceipts};
use crate::store::Store;

/// The export format's name, checked on import.
const FORMAT: &str = "session-gateway-account/1";

/// `accounts …`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AccountsCommand {
    /// List the accounts with their status and polling health (a table, or --json).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Print one account as JSON, WITH ITS RECOVERY PHRASE AND SEED (for `accounts import`).
    Export {
        /// The account's Session ID (05…).
        session_id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Import accounts from an export (one object or an array), from FILE or `-` (stdin).
    Import {
        /// The export file, or `-` for stdin.
        file: String,
        #[command(flatten)]
        target: Target,
    },
}

/// One account as `accounts list --json` shows it.
#[derive(Debug, Serialize)]
struct Listed {
    session_id: String,
    display_name: Option<String>,
    status: AccountStatus,
    created_at: i64,
    last_poll_at: Option<i64>,
    stale: bool,
    last_error: Option<String>,
    replica: Option<String>,
}

/// `accounts list --json`.
#[derive(Debug, Serialize)]
struct Listing {
    accounts: Vec<Listed>,
}

/// The chat settings an export carries.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportedSettings {
    read_receipts: ReadReceipts,
    message_requests: MessageRequests,
    group_invites: GroupInvites,
}

/// An exported account.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Export {
    /// [`FORMAT`].
    format: String,
    session_id: SessionIdText,
    display_name: Option<String>,
    status: AccountStatus,
    #[serde(default)]
    created_at: Option<i64>,
    /// The 13-word recovery phrase (absent for a 32-byte seed, which has none).
    #[serde(default)]
    phrase: Option<String>,
    /// The stored seed, hex: 16 bytes of phrase entropy, or a 32-byte Ed25519 seed.
    #[serde(default)]
    seed: Option<String>,
    #[serde(default)]
    settings: Option<ExportedSettings>,
}

/// What `accounts import` did.
#[derive(Debug, Default, Serialize)]
struct Imported {
    imported: Vec<String>,
    /// Already in this database: left as they are.
    existing: Vec<String>,
}

pub(super) async fn run(command: AccountsCommand) -> Result<String, AdminError> {
    match command {
        AccountsCommand::List { json, target } => list(&target.open().await?, json).await,
        AccountsCommand::Export { session_id, target } => {
            let id = SessionIdText::parse(&session_id)
                .map_err(|e| AdminError::Invalid(format!("session_id: {e}")))?;
            let out = export(&target.open().await?, &id).await?;
            eprintln!(
                "warning: this export contains the account's recovery phrase and seed: whoever \
                 reads it controls the account. Keep it encrypted and delete it once imported."
            );
            Ok(out)
        }
        AccountsCommand::Import { file, target } => {
            let text = read_input(&file)?;
            import(&target.open().await?, &text).await
        }
    }
}

async fn list(store: &Store, as_json: bool) -> Result<String, AdminError> {
    let now = now_ms();
    let slack = i64::try_from(FLUSH_MS).unwrap_or(0);
    let mut rows = Vec::new();
    for account in store.list_accounts().await? {
        let health = store.account_health(account.session_id.as_str()).await?;
        rows.push(Listed {
            stale: account.status == AccountStatus::Active
                && health.poll.is_stale(account.created_at, now, slack),
            session_id: account.session_id.as_str().to_owned(),
            display_name: account.display_name,
            status: account.status,
            created_at: account.created_at,
            last_poll_at: health.poll.last_poll_at,
            last_error: health.poll.last_error,
            replica: health.replica,
        });
    }
    if as_json {
        return json(&Listing { accounts: rows });
    }
    Ok(table(&rows, now))
}

/// `accounts list` as a table, one account per line.
fn table(rows: &[Listed], now: i64) -> String {
    let mut out = format!(
        "{:<66}  {:<20}  {:<6}  {:<9}  {:<5}  {}",
        "SESSION ID", "NAME", "STATUS", "LAST POLL", "STALE", "REPLICA"
    );
    for row in rows {
        let name: String = row
            .display_name
            .as_deref()
            .unwrap_or("-")
            .chars()
            .take(20)
            .collect();
        let poll = row.last_poll_at.map_or_else(
            || "never".to_owned(),
            |at| format!("{}s ago", (now - at).max(0) / 1000),
        );
        out.push_str(&format!(
            "\n{:<66}  {:<20}  {:<6}  {:<9}  {:<5}  {}",
            row.session_id,
            name,
            row.status.as_str(),
            poll,
            if row.stale { "yes" } else { "no" },
            row.replica.as_deref().unwrap_or("-"),
        ));
    }
    out
}

async fn export(store: &Store, id: &SessionIdText) -> Result<String, AdminError> {
    let account = store
        .get_account(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("account {id}")))?;
    let seed = store
        .account_seed(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("account {id}")))?;
    let settings = store.chat_settings(id.as_str()).await?;
    let export = Export {
        format: FORMAT.into(),
        session_id: id.clone(),
        display_name: account.display_name,
        status: account.status,
        created_at: Some(account.created_at),
        phrase: SessionIdentities
            .phrase_for_seed(&seed)
            .ok()
            .map(|p| p.to_string()),
        seed: Some(hex::encode(&*seed)),
        settings: settings.map(|s| ExportedSettings {
            read_receipts: s.read_receipts,
            message_requests: s.message_requests,
            group_invites: s.group_invites,
        }),
    };
    json(&export)
}

fn read_input(file: &str) -> Result<zeroize::Zeroizing<String>, AdminError> {
    let mut text = zeroize::Zeroizing::new(String::new());
    let result = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
    };
    result.map_err(|source| AdminError::Read {
        path: file.to_owned(),
        source,
    })?;
    Ok(text)
}

/// The seed an export names, checked against its Session ID.
fn seed_of(export: &Export) -> Result<zeroize::Zeroizing<Vec<u8>>, AdminError> {
    let seed = match (&export.phrase, &export.seed) {
        (Some(phrase), _) => SessionIdentities.restore(phrase)?.seed,
        (None, Some(hex_seed)) => zeroize::Zeroizing::new(
            hex::decode(hex_seed.trim())
                .map_err(|_| AdminError::Invalid(format!("{}: seed is not hex", short(export))))?,
        ),
        (None, None) => {
            return Err(AdminError::Invalid(format!(
                "{}: neither phrase nor seed",
                short(export)
            )))
        }
    };
    if session_id_of_seed(&seed)? != export.session_id {
        return Err(AdminError::Invalid(format!(
            "{}: the phrase or seed belongs to another Session ID",
            short(export)
        )));
    }
    Ok(seed)
}

fn short(export: &Export) -> String {
    export.session_id.as_str().chars().take(10).collect()
}

/// Imports every account of `text` (checked first: one bad entry imports nothing).
async fn import(store: &Store, text: &str) -> Result<String, AdminError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| AdminError::Invalid(format!("not JSON: {e}")))?;
    let entries = match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    let mut accounts = Vec::with_capacity(entries.len());
    for entry in entries {
        let export: Export = serde_json::from_value(entry)
            .map_err(|e| AdminError::Invalid(format!("not an account export: {e}")))?;
        if export.format != FORMAT {
            return Err(AdminError::Invalid(format!(
                "unknown export format {:?} (expected {FORMAT})",
                export.format
            )));
        }
        let seed = seed_of(&export)?;
        accounts.push((export, seed));
    }
    let mut done = Imported::default();
    let now = now_ms();
    for (export, seed) in accounts {
        let id = &export.session_id;
        let name = export.display_name.as_deref();
        if store.insert_account(id, name, &seed, now).await?.is_none() {
            done.existing.push(id.as_str().to_owned());
            continue;
        }
        if let Some(s) = &export.settings {
            store
                .set_chat_settings(
                    id.as_str(),
                    Some(s.read_receipts),
                    Some(s.message_requests),
                    Some(s.group_invites),
                )
                .await?;
        }
        if export.status != AccountStatus::Active {
            let patch = AccountPatch {
                status: Some(export.status),
                ..AccountPatch::default()
            };
            store.patch_account(id, &patch, now).await?;
        }
        done.imported.push(id.as_str().to_owned());
    }
    json(&done)
}
