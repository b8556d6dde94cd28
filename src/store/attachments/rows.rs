//! Reading `attachments` rows back into views and stored attachments (keys opened).

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{download_path, AttachmentStatus, AttachmentView, StoredAttachment};
use crate::store::secrets::{MasterKey, RecordKind};
use crate::store::StoreError;

pub(super) const COLUMNS: &str =
    "id, account, message_id, direction, content_type, file_name, size, \
                       status, failure_reason, attempts, remote_url, digest, key_sealed";

pub(super) fn view_from_row(row: &AnyRow) -> Result<AttachmentView, StoreError> {
    let account: String = row.try_get("account")?;
    let id: String = row.try_get("id")?;
    Ok(AttachmentView {
        url: download_path(&account, &id),
        id,
        message_id: row.try_get("message_id")?,
        content_type: row.try_get("content_type")?,
        file_name: row.try_get("file_name")?,
        size: row.try_get("size")?,
        status: AttachmentStatus::parse(&row.try_get::<String, _>("status")?)?,
        failure_reason: row.try_get("failure_reason")?,
    })
}

/// An attachment's bytes as stored: sealed under the master key (`data_sealed = 1`, issue 13,
/// attack 8), or plaintext in rows written before that.
pub(super) fn sealed_data(master: &MasterKey, id: &str, data: &[u8]) -> Vec<u8> {
    master.seal(RecordKind::AttachmentData, id, data)
}

fn opened_data(master: &MasterKey, id: &str, row: &AnyRow) -> Result<Option<Vec<u8>>, StoreError> {
    let data: Option<Vec<u8>> = row.try_get("data")?;
    let sealed: i64 = row.try_get("data_sealed")?;
    match data {
        Some(bytes) if sealed == 1 => Ok(Some(
            master
                .open(RecordKind::AttachmentData, id, &bytes)?
                .to_vec(),
        )),
        other => Ok(other),
    }
}

pub(super) fn stored_from_row(
    master: &MasterKey,
    row: &AnyRow,
    with_data: bool,
) -> Result<StoredAttachment, StoreError> {
    let view = view_from_row(row)?;
    let key = row
        .try_get::<Option<Vec<u8>>, _>("key_sealed")?
        .map(|sealed| master.open(RecordKind::AttachmentKey, &view.id, &sealed))
        .transpose()?;
    Ok(StoredAttachment {
        direction: row.try_get("direction")?,
        data: if with_data {
            opened_data(master, &view.id, row)?
        } else {
            None
        },
        remote_url: row.try_get("remote_url")?,
        digest: row.try_get("digest")?,
        key,
        attempts: row.try_get("attempts")?,
        view,
    })
}
