//! What each account received, keyed on what the sender signed (issue 13, attack 3): the swarm
//! hash covers the unsigned wrapper too, so a node can store the same signed content again
//! under a new hash. [`StoreTx::first_receipt`] records `(sender, signed timestamp, digest)`
//! in the poll's transaction and says whether it was new.

use super::{StoreError, StoreTx};

/// What the sender signed, as the replay check keys it.
#[derive(Clone, Copy, Debug)]
pub struct SignedKey<'a> {
    /// The authenticated sender (Session ID).
    pub sender: &'a str,
    /// The signed sent timestamp, ms.
    pub sent_at: i64,
    /// A digest of the signed content.
    pub digest: &'a [u8],
}

impl StoreTx {
    /// Records that `account` received `key`; false when it had already (a replay: the
    /// caller applies nothing).
    pub async fn first_receipt(
        &mut self,
        account: &str,
        key: &SignedKey<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO received_signed (account, sender, sent_at, digest, received_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(account)
        .bind(key.sender)
        .bind(key.sent_at)
        .bind(key.digest.to_vec())
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// The digest [`SignedKey::digest`] holds: BLAKE2b-256 of the signed content's bytes.
pub fn content_digest(content: &[u8]) -> [u8; 32] {
    use blake2::digest::consts::U32;
    use blake2::{Blake2b, Digest as _};
    Blake2b::<U32>::digest(content).into()
}
