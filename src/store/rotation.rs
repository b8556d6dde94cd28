//! Master key rotation (`session-gateway rotate-master-key`, issue 15): every secret the store
//! sealed under the master key ([`super::secrets`]) is opened with the old key and sealed again
//! under a new one, after which the gateway starts with the new key only.
//!
//! Design: the rotation runs with the gateways stopped (it refuses while a replica's heartbeat
//! is live), and is safe to interrupt at any point:
//!
//! 1. It records the new key's check value in `meta` (`master_key_next`). From then on
//!    [`super::Store::open`] refuses to start (`RotationUnfinished`), whichever key it is given,
//!    so no gateway writes secrets under either key while rows are a mix of both.
//! 2. It walks every sealed column ([`SEALED`]) in key order, in batches, one transaction per
//!    batch. A value that opens with the new key is already done (a previous, interrupted run
//!    got there) and is skipped; one that opens with the old key is sealed again under the new
//!    key and written back only if the row still holds the value read (compare-and-set). So a
//!    run interrupted anywhere (a crash, a kill, a failed batch rolled back) leaves each row
//!    sealed under exactly one of the two keys, and running the same command again finishes
//!    the work; rows carry no key marker, the AEAD tag tells which key sealed them.
//! 3. When a whole pass found nothing left under the old key, one transaction replaces the
//!    check value (`master_key_check`) with the new key's and deletes `master_key_next`. The
//!    old key no longer opens the database; the new key does.
//!
//! Running it again after it finished reports that the database already uses the new key.

use sqlx::{AnyPool, Row as _};

use super::connect::Commits;
use super::secrets::{MasterKey, RecordKind};
use super::{open_pool, opens_check, StoreError, CHECK_PLAINTEXT};

/// The `meta` key holding the check value of the key an unfinished rotation moves to.
const NEXT_KEY: &str = "master_key_next";

/// One column of sealed values.
struct SealedColumn {
    table: &'static str,
    /// The primary key's columns, in order; integer ones are read (and compared) as text.
    keys: &'static [Key],
    column: &'static str,
    kind: RecordKind,
    /// Which rows hold a value sealed under the master key.
    filter: &'static str,
    /// Rows per transaction (values of up to 10 MB take small batches).
    batch: i64,
}

enum Key {
    Text(&'static str),
    Int(&'static str),
}

use Key::{Int, Text};

impl Key {
    fn expr(&self) -> String {
        match self {
            Self::Text(name) => (*name).to_owned(),
            Self::Int(name) => format!("CAST({name} AS TEXT)"),
        }
    }
}

/// Every sealed column, with the key columns whose values, joined with `/`, are the record id
/// its values are sealed under (their AAD, [`super::secrets`]). `tests/admin_rotation.rs`
/// checks that every `*_sealed` column of the migrations is here.
const SEALED: &[SealedColumn] = &[
    SealedColumn {
        table: "accounts",
        keys: &[Text("session_id")],
        column: "seed_sealed",
        kind: RecordKind::AccountSeed,
        filter: "1 = 1",
        batch: 100,
    },
    SealedColumn {
        table: "accounts",
        keys: &[Text("session_id")],
        column: "avatar_key_sealed",
        kind: RecordKind::OwnProfileKey,
        filter: "1 = 1",
        batch: 100,
    },
    SealedColumn {
        table: "webhooks",
        keys: &[Text("id")],
        column: "secrets_sealed",
        kind: RecordKind::WebhookSecrets,
        filter: "1 = 1",
        batch: 100,
    },
    SealedColumn {
        table: "conversations",
        keys: &[Text("account"), Text("peer")],
        column: "profile_key_sealed",
        kind: RecordKind::ContactProfileKey,
        filter: "1 = 1",
        batch: 100,
    },
    SealedColumn {
        table: "attachments",
        keys: &[Text("id")],
        column: "key_sealed",
        kind: RecordKind::AttachmentKey,
        filter: "1 = 1",
        batch: 100,
    },
    SealedColumn {
        table: "attachments",
        keys: &[Text("id")],
        column: "data",
        kind: RecordKind::AttachmentData,
        // Rows written before attachments were sealed hold plaintext (issue 13).
        filter: "data_sealed = 1",
        batch: 8,
    },
    SealedColumn {
        table: "group_members",
        keys: &[Text("account"), Text("group_id")],
        column: "secret_sealed",
        kind: RecordKind::GroupSecret,
        filter: "1 = 1",
        batch: 100,
    },
    SealedColumn {
        table: "group_configs",
        keys: &[Text("group_id"), Int("namespace"), Text("hash")],
        column: "data_sealed",
        kind: RecordKind::GroupConfig,
        filter: "1 = 1",
        batch: 100,
    },
    SealedColumn {
        table: "user_configs",
        keys: &[Text("account"), Int("namespace"), Text("hash")],
        column: "data_sealed",
        kind: RecordKind::UserConfig,
        filter: "1 = 1",
        batch: 100,
    },
];

/// `(table, column)` of every column [`rotate_master_key`] re-seals (besides the check value).
pub fn sealed_columns() -> Vec<(&'static str, &'static str)> {
    SEALED.iter().map(|c| (c.table, c.column)).collect()
}

/// Why a rotation did not run or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A gateway replica is running on this database.
    #[error(
        "{0} gateway replica(s) have a live heartbeat on this database: stop every gateway \
         first (a stopped one's heartbeat lapses after replicas.lease_ttl_ms)"
    )]
    GatewayRunning(i64),
    /// The new key is the key in use.
    #[error("the new key is the key this database already uses")]
    SameKey,
    /// The configured (old) key does not open the database.
    #[error("security.master_key does not open this database{0}")]
    WrongOldKey(&'static str),
    /// An unfinished rotation moves to a third key.
    #[error(
        "an unfinished rotation to another key exists: run it again with that key to finish it"
    )]
    OtherRotation,
    /// A sealed value opens with neither key (an altered row).
    #[error("{table}.{column} of row {row} opens with neither the old nor the new key")]
    Unreadable {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The row's key, shortened.
        row: String,
    },
}

/// How a rotation runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RotateOptions {
    /// Stop after re-sealing this many values, leaving the rotation unfinished (tests simulate
    /// an interruption with it); `None` runs to the end.
    pub max_rows: Option<u64>,
}

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RotationReport {
    /// Values sealed again under the new key by this run.
    pub resealed: u64,
    /// Values found already under the new key (re-sealed by an interrupted run).
    pub already_new: u64,
    /// The database now uses the new key only.
    pub finished: bool,
}

/// Where the database stands before a run.
enum Start {
    /// Already under the new key: nothing to do.
    Done,
    /// Under the old key (a rotation to the new key is recorded, or has just been).
    Rotating,
}

/// Re-seals every secret of the database at `url` from `old` to `new` (see the module docs).
pub async fn rotate_master_key(
    url: &str,
    old: &MasterKey,
    new: &MasterKey,
    options: RotateOptions,
) -> Result<RotationReport, RotationError> {
    let (pool, backend) = open_pool(url, 2, &Default::default(), Commits::SyncedEach).await?;
    // Heartbeats are written by the database's clock (as the lease manager reads it).
    let result = match super::leases::db_clock(&pool, backend).await {
        Ok(now) => run(&pool, old, new, options, now).await,
        Err(e) => Err(e.into()),
    };
    pool.close().await;
    result
}

async fn run(
    pool: &AnyPool,
    old: &MasterKey,
    new: &MasterKey,
    options: RotateOptions,
    now: i64,
) -> Result<RotationReport, RotationError> {
    let live: i64 = sqlx::query("SELECT COUNT(*) AS n FROM replicas WHERE expires_at > $1")
        .bind(now)
        .fetch_one(pool)
        .await
        .map_err(StoreError::from)?
        .try_get("n")
        .map_err(StoreError::from)?;
    if live > 0 {
        return Err(RotationError::GatewayRunning(live));
    }
    let mut report = RotationReport::default();
    if let Start::Done = begin(pool, old, new).await? {
        report.finished = true;
        return Ok(report);
    }
    for column in SEALED {
        if !reseal_column(pool, column, old, new, options, &mut report).await? {
            return Ok(report);
        }
    }
    let mut tx = pool.begin().await.map_err(StoreError::from)?;
    sqlx::query("UPDATE meta SET value = $1 WHERE key = 'master_key_check'")
        .bind(new.seal(RecordKind::Check, "", CHECK_PLAINTEXT))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    sqlx::query("DELETE FROM meta WHERE key = $1")
        .bind(NEXT_KEY)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    tx.commit().await.map_err(StoreError::from)?;
    report.finished = true;
    Ok(report)
}

async fn meta(pool: &AnyPool, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await?
        .map(|row| row.try_get("value"))
        .transpose()?)
}

/// Whether a rotation is recorded and unfinished ([`super::Store::open`] refuses then).
pub(super) async fn in_progress(pool: &AnyPool) -> Result<bool, StoreError> {
    Ok(meta(pool, NEXT_KEY).await?.is_some())
}

/// Checks the keys against the database and records the rotation if it is new.
async fn begin(pool: &AnyPool, old: &MasterKey, new: &MasterKey) -> Result<Start, RotationError> {
    if meta(pool, "master_key_check").await?.is_none() {
        // No gateway ever started here: the old key becomes the database's key, as the first
        // start would have made it.
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('master_key_check', $1) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(old.seal(RecordKind::Check, "", CHECK_PLAINTEXT))
        .execute(pool)
        .await
        .map_err(StoreError::from)?;
    }
    let check = meta(pool, "master_key_check").await?.unwrap_or_default();
    let next = meta(pool, NEXT_KEY).await?;
    match (opens_check(old, &check), opens_check(new, &check)) {
        (true, true) => Err(RotationError::SameKey),
        (false, true) => Ok(Start::Done),
        (false, false) if next.as_deref().is_some_and(|n| opens_check(new, n)) => {
            Err(RotationError::WrongOldKey(
                " (a rotation to the new key is unfinished: keep the old key as \
                 security.master_key until it finishes)",
            ))
        }
        (false, false) => Err(RotationError::WrongOldKey("")),
        (true, false) => match next {
            Some(n) if opens_check(new, &n) => Ok(Start::Rotating),
            Some(_) => Err(RotationError::OtherRotation),
            None => {
                sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                    .bind(NEXT_KEY)
                    .bind(new.seal(RecordKind::Check, "", CHECK_PLAINTEXT))
                    .execute(pool)
                    .await
                    .map_err(StoreError::from)?;
                Ok(Start::Rotating)
            }
        },
    }
}

/// Re-seals one column, batch by batch. False when `options.max_rows` stopped it.
async fn reseal_column(
    pool: &AnyPool,
    column: &SealedColumn,
    old: &MasterKey,
    new: &MasterKey,
    options: RotateOptions,
    report: &mut RotationReport,
) -> Result<bool, RotationError> {
    let keys: Vec<String> = column.keys.iter().map(Key::expr).collect();
    let key_list = keys.join(", ");
    let mut after: Option<Vec<String>> = None;
    loop {
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        let mut sql = format!(
            "SELECT {select}, {col} AS sealed FROM {table} WHERE {col} IS NOT NULL AND {filter}",
            select = keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} AS k{i}"))
                .collect::<Vec<_>>()
                .join(", "),
            col = column.column,
            table = column.table,
            filter = column.filter,
        );
        if after.is_some() {
            let params = (1..=keys.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>();
            sql.push_str(&format!(" AND ({key_list}) > ({})", params.join(", ")));
        }
        sql.push_str(&format!(
            " ORDER BY {key_list} LIMIT {}",
            column.batch.max(1)
        ));
        let mut query = sqlx::query(&sql);
        for value in after.iter().flatten() {
            query = query.bind(value.clone());
        }
        let rows = query.fetch_all(&mut *tx).await.map_err(StoreError::from)?;
        if rows.is_empty() {
            return Ok(true);
        }
        for row in &rows {
            let key: Vec<String> = (0..keys.len())
                .map(|i| row.try_get(format!("k{i}").as_str()))
                .collect::<Result<_, _>>()
                .map_err(StoreError::from)?;
            let sealed: Vec<u8> = row.try_get("sealed").map_err(StoreError::from)?;
            let id = key.join("/");
            if new.open(column.kind, &id, &sealed).is_ok() {
                report.already_new += 1;
            } else {
                let plain =
                    old.open(column.kind, &id, &sealed)
                        .map_err(|_| RotationError::Unreadable {
                            table: column.table,
                            column: column.column,
                            row: id.chars().take(24).collect(),
                        })?;
                let resealed = new.seal(column.kind, &id, &plain);
                write_back(&mut tx, column, &keys, &key, &sealed, resealed).await?;
                report.resealed += 1;
                if options.max_rows.is_some_and(|max| report.resealed >= max) {
                    tx.commit().await.map_err(StoreError::from)?;
                    return Ok(false);
                }
            }
            after = Some(key);
        }
        tx.commit().await.map_err(StoreError::from)?;
    }
}

/// Replaces one value if the row still holds `before`.
async fn write_back(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    column: &SealedColumn,
    keys: &[String],
    key: &[String],
    before: &[u8],
    after: Vec<u8>,
) -> Result<(), StoreError> {
    let conditions = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} = ${}", i + 2))
        .collect::<Vec<_>>()
        .join(" AND ");
    let sql = format!(
        "UPDATE {table} SET {col} = $1 WHERE {conditions} AND {col} = ${last}",
        table = column.table,
        col = column.column,
        last = keys.len() + 2,
    );
    let mut query = sqlx::query(&sql).bind(after);
    for value in key {
        query = query.bind(value.clone());
    }
    query.bind(before.to_vec()).execute(&mut **tx).await?;
    Ok(())
}
