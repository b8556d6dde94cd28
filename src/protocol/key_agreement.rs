//! X25519 key agreement, `S = X25519(a, B)`, for the keys this gateway encrypts to again and
//! again: the service nodes of its onion paths and swarms (each onion request agrees a secret
//! with four of them) and the peers and own accounts it seals messages to.
//!
//! The result is always the X25519 function's (RFC 7748); only the arithmetic differs. The
//! Montgomery ladder costs about four fixed-base multiplications. Once a public key `B` has been
//! used [`TABLE_AFTER`] times, its Edwards form gets a precomputed multiples table, the
//! structure curve25519-dalek uses for its own base point, and `[a]B` becomes a constant-time
//! fixed-base multiplication by that table (issue 16: the ladder was a quarter of the gateway's
//! CPU per sent message). A table is 30 KiB; at most [`MAX_TABLES`] are kept, least recently
//! used first out. Keys that have no canonical Edwards form (points on the twist, the
//! non-canonical encodings) and points of small order always take the ladder.
//!
//! The secret `a` is never stored: only public keys and their tables are.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use curve25519_dalek::edwards::EdwardsBasepointTable;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::traits::BasepointTable;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Uses of a public key before it gets a table: a table costs about as much as 20 ladders to
/// build and saves about three quarters of one at each later use.
pub const TABLE_AFTER: u32 = 32;
/// Tables kept at most (30 KiB each).
pub const MAX_TABLES: usize = 64;
/// Keys whose uses are counted at most; past it the counts start over.
const MAX_COUNTED: usize = 4096;

/// `X25519(secret, public)`, or `None` when it is all zeros: `public` is a point of small
/// order, which libsodium refuses (`crypto_scalarmult` fails) and so does every caller here.
pub fn agree(secret: &[u8; 32], public: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
    KNOWN.agree(secret, public)
}

/// [`agree`] for a public key not expected again (an ephemeral one): the ladder, uncounted.
pub fn agree_once(secret: &[u8; 32], public: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
    nonzero(ladder(secret, public))
}

/// `shared`, unless it is all zeros.
fn nonzero(shared: Zeroizing<[u8; 32]>) -> Option<Zeroizing<[u8; 32]>> {
    let zero: bool = shared.ct_eq(&[0u8; 32]).into();
    (!zero).then_some(shared)
}

/// The process's tables (public keys only).
static KNOWN: LazyLock<KnownKeys> = LazyLock::new(|| KnownKeys::new(TABLE_AFTER, MAX_TABLES));

/// Public keys met before, their use counts and, for the frequent ones, their tables.
pub struct KnownKeys {
    table_after: u32,
    max_tables: usize,
    keys: Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    counted: HashMap<[u8; 32], u32>,
    tables: HashMap<[u8; 32], Kept>,
    /// A clock for least-recent use, bumped at each table use.
    tick: u64,
}

struct Kept {
    table: Arc<EdwardsBasepointTable>,
    used: u64,
}

/// What [`KnownKeys::lookup`] says to do for one agreement.
enum Route {
    Table(Arc<EdwardsBasepointTable>),
    Build,
    Ladder,
}

impl KnownKeys {
    /// Tables for keys used `table_after` times, at most `max_tables` of them.
    pub fn new(table_after: u32, max_tables: usize) -> Self {
        Self {
            table_after,
            max_tables,
            keys: Mutex::new(Keys::default()),
        }
    }

    /// `X25519(secret, public)`, `None` when all zeros (see [`agree`]).
    pub fn agree(&self, secret: &[u8; 32], public: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
        let shared = match self.lookup(public) {
            Route::Table(table) => times_table(&table, secret),
            Route::Build => match table_of(public) {
                Some(table) => {
                    let table = Arc::new(table);
                    self.keep(public, table.clone());
                    times_table(&table, secret)
                }
                None => ladder(secret, public),
            },
            Route::Ladder => ladder(secret, public),
        };
        nonzero(shared)
    }

    /// Tables held now.
    pub fn tables(&self) -> usize {
        self.lock().tables.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Keys> {
        // The map holds no invariant a panicking holder could break half-way: go on with it.
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lookup(&self, public: &[u8; 32]) -> Route {
        let mut keys = self.lock();
        keys.tick += 1;
        let tick = keys.tick;
        if let Some(kept) = keys.tables.get_mut(public) {
            kept.used = tick;
            return Route::Table(kept.table.clone());
        }
        if keys.counted.len() >= MAX_COUNTED && !keys.counted.contains_key(public) {
            keys.counted.clear();
        }
        let uses = keys.counted.entry(*public).or_insert(0);
        *uses = uses.saturating_add(1);
        if *uses == self.table_after {
            Route::Build
        } else {
            Route::Ladder
        }
    }

    fn keep(&self, public: &[u8; 32], table: Arc<EdwardsBasepointTable>) {
        let mut keys = self.lock();
        keys.counted.remove(public);
        if self.max_tables == 0 {
            return;
        }
        while keys.tables.len() >= self.max_tables {
            let oldest = keys
                .tables
                .iter()
                .min_by_key(|(_, kept)| kept.used)
                .map(|(key, _)| *key);
            match oldest {
                Some(key) => keys.tables.remove(&key),
                None => break,
            };
        }
        let used = keys.tick;
        keys.tables.insert(*public, Kept { table, used });
    }
}

/// The Montgomery ladder (x25519-dalek).
fn ladder(secret: &[u8; 32], public: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(x25519_dalek::x25519(*secret, *public))
}

/// `[clamp(secret)]B` through `B`'s table, as a Montgomery u-coordinate: the same bytes as the
/// ladder's, since the u-coordinate of a multiple does not depend on the sign chosen for `B`.
fn times_table(table: &EdwardsBasepointTable, secret: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(table.mul_base_clamped(*secret).to_montgomery().to_bytes())
}

/// The table of `public`'s Edwards form, when `public` is the canonical encoding of a point
/// on the curve (so the table's results are exactly the ladder's) and not of small order
/// (every agreement with one is refused: no table is worth building for it).
fn table_of(public: &[u8; 32]) -> Option<EdwardsBasepointTable> {
    let point = MontgomeryPoint(*public).to_edwards(0)?;
    if point.is_small_order() || point.to_montgomery().to_bytes() != *public {
        return None;
    }
    Some(EdwardsBasepointTable::create(&point))
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::EdwardsPoint;
    use proptest::prelude::*;
    use rand::rngs::OsRng;
    use rand::RngCore;

    use super::*;

    fn random32() -> [u8; 32] {
        let mut b = [0u8; 32];
        OsRng.fill_bytes(&mut b);
        b
    }

    fn public_of(secret: &[u8; 32]) -> [u8; 32] {
        EdwardsPoint::mul_base_clamped(*secret)
            .to_montgomery()
            .to_bytes()
    }

    /// Agrees `uses` times with `public` through `known`, each result checked against the ladder.
    fn agree_like_the_ladder(known: &KnownKeys, public: &[u8; 32], uses: u32) {
        for _ in 0..uses {
            let secret = random32();
            let expected = x25519_dalek::x25519(secret, *public);
            let got = known.agree(&secret, public);
            if expected == [0u8; 32] {
                assert!(got.is_none());
            } else {
                assert_eq!(got.as_deref(), Some(&expected));
            }
        }
    }

    #[test]
    fn a_frequent_key_gets_a_table_and_the_same_secrets() {
        let known = KnownKeys::new(3, 4);
        let public = public_of(&random32());
        agree_like_the_ladder(&known, &public, 2);
        assert_eq!(known.tables(), 0, "two uses: still the ladder");
        agree_like_the_ladder(&known, &public, 40);
        assert_eq!(known.tables(), 1);
    }

    #[test]
    fn a_key_with_a_torsion_component_agrees_like_the_ladder() {
        // Not a key an honest node makes, but one a dishonest one can announce.
        let known = KnownKeys::new(1, 4);
        let point = EdwardsPoint::mul_base_clamped(random32()) + EIGHT_TORSION[3];
        let public = point.to_montgomery().to_bytes();
        agree_like_the_ladder(&known, &public, 20);
        assert_eq!(known.tables(), 1);
    }

    #[test]
    fn small_order_and_twist_keys_take_the_ladder_and_small_order_ones_are_refused() {
        let known = KnownKeys::new(1, 4);
        for torsion in EIGHT_TORSION {
            let public = torsion.to_montgomery().to_bytes();
            for _ in 0..3 {
                assert!(known.agree(&random32(), &public).is_none());
            }
        }
        // u = 2 is not on the curve (it is on the twist): no Edwards form, no table.
        let mut twist = [0u8; 32];
        twist[0] = 2;
        assert!(MontgomeryPoint(twist).to_edwards(0).is_none());
        agree_like_the_ladder(&known, &twist, 5);
        // A non-canonical encoding (u + p of a small u) is reduced by the ladder; no table either.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xed + 9;
        non_canonical[31] = 0x7f;
        agree_like_the_ladder(&known, &non_canonical, 5);
        assert_eq!(known.tables(), 0);
    }

    #[test]
    fn the_least_recently_used_table_goes_first() {
        let known = KnownKeys::new(1, 2);
        let keys: Vec<[u8; 32]> = (0..3).map(|_| public_of(&random32())).collect();
        agree_like_the_ladder(&known, &keys[0], 1);
        agree_like_the_ladder(&known, &keys[1], 1);
        agree_like_the_ladder(&known, &keys[0], 1);
        agree_like_the_ladder(&known, &keys[2], 1);
        let kept = known.lock();
        assert_eq!(kept.tables.len(), 2);
        assert!(kept.tables.contains_key(&keys[0]));
        assert!(kept.tables.contains_key(&keys[2]));
    }

    proptest! {
        #[test]
        fn tables_agree_with_the_ladder(secret in any::<[u8; 32]>(), key in any::<[u8; 32]>()) {
            let known = KnownKeys::new(1, 1);
            let public = public_of(&key);
            let table = known.agree(&secret, &public);
            prop_assert_eq!(known.tables(), 1);
            prop_assert_eq!(table.as_deref(), Some(&x25519_dalek::x25519(secret, public)));
            // Any bytes at all, through a fresh cache: a table or the ladder, same answer.
            let any = KnownKeys::new(1, 1);
            let expected = x25519_dalek::x25519(secret, key);
            let got = any.agree(&secret, &key);
            prop_assert_eq!(got.as_deref().copied().unwrap_or([0u8; 32]), expected);
        }
    }
}
