//! Numeric limits of the storage RPC (§4.2, §4.6; SS `rpc/request_handler.h`,
//! `rpc/client_rpc_endpoints.h`).

use super::Namespace;

/// Longest `data` string a JSON `store` accepts (base64 characters).
pub const MAX_STORE_DATA_BASE64: usize = 102_400;
/// Longest decoded message body (`MAX_MESSAGE_BODY`).
pub const MAX_STORE_DATA_BYTES: usize = 76_800;
/// Most subrequests in one `batch` or `sequence`.
pub const BATCH_REQUEST_MAX: usize = 20;
/// Shortest TTL a store may ask for (`TTL_MINIMUM`, 10 s).
pub const TTL_MIN_MS: u64 = 10_000;
/// Longest TTL in a public inbox (`TTL_MAXIMUM`, 14 days).
pub const TTL_MAX_PUBLIC_MS: u64 = 14 * 24 * 60 * 60 * 1000;
/// Longest TTL elsewhere, and the cap on `expire` (`TTL_MAXIMUM_PRIVATE`, 30 days).
pub const TTL_MAX_PRIVATE_MS: u64 = 30 * 24 * 60 * 60 * 1000;
/// How far a signature timestamp may be from the node's clock (`SIGNATURE_TOLERANCE`, ±60 s).
pub const SIGNATURE_TOLERANCE_MS: u64 = 60_000;
/// The same for requests forwarded inside a swarm (`SIGNATURE_TOLERANCE_FORWARDED`, ±70 s).
pub const SIGNATURE_TOLERANCE_FORWARDED_MS: u64 = 70_000;
/// A store's `timestamp` may be at most this far ahead, and its expiry at most this far behind,
/// the node's clock (`STORE_TOLERANCE`, 10 s).
pub const STORE_TOLERANCE_MS: u64 = 10_000;
/// Byte budget of one `retrieve` (`RETRIEVE_MAX_SIZE`); `max_size = -k` means this divided by k.
pub const RETRIEVE_MAX_SIZE: i64 = 7_800_000;
/// `max_size` used when a retrieve gives neither `max_size` nor `max_count`.
pub const RETRIEVE_DEFAULT_MAX_SIZE: i64 = -5;
/// Most subaccount tokens a revoke may carry, and most revocations kept per account.
pub const MAX_SUBACCOUNT_TOKENS: usize = 50;
/// Timestamps below this (10^9 ms, i.e. 10^6 s) are rejected as "not in milliseconds".
pub const MIN_TIMESTAMP_MS: u64 = 1_000_000_000;

/// Whether a store's TTL (`expiry − timestamp`) is allowed in `ns`: 10 s ≤ TTL ≤ the namespace's
/// maximum. Otherwise the server answers 403 `Provided expiry/TTL is not valid.`
pub fn ttl_is_valid(ns: Namespace, ttl_ms: i64) -> bool {
    u64::try_from(ttl_ms).is_ok_and(|ttl| (TTL_MIN_MS..=ns.max_ttl_ms()).contains(&ttl))
}

/// The byte budget a retrieve runs with (SS `request_handler.cpp` retrieve).
///
/// Zero means unset. With neither limit set, `max_size` is −5. A negative `−k` means
/// [`RETRIEVE_MAX_SIZE`]` / k`; a positive value, or none, is capped at [`RETRIEVE_MAX_SIZE`].
/// (At least one message is always returned whatever the budget.)
pub fn effective_max_size(max_size: Option<i64>, max_count: Option<i64>) -> i64 {
    let max_size = max_size.filter(|s| *s != 0);
    let max_count = max_count.filter(|c| *c != 0);
    let max_size = match (max_size, max_count) {
        (None, None) => Some(RETRIEVE_DEFAULT_MAX_SIZE),
        (size, _) => size,
    };
    match max_size {
        Some(size) if size < 0 => RETRIEVE_MAX_SIZE / size.checked_neg().unwrap_or(i64::MAX),
        Some(size) => size.min(RETRIEVE_MAX_SIZE),
        None => RETRIEVE_MAX_SIZE,
    }
}

/// The message-count limit a retrieve runs with: `None` (unlimited) for absent or 0.
pub fn effective_max_count(max_count: Option<i64>) -> Option<i64> {
    max_count.filter(|c| *c != 0)
}

/// Whether `timestamp_ms` is within ±`tolerance_ms` of `now_ms`.
pub fn within_tolerance(timestamp_ms: u64, now_ms: u64, tolerance_ms: u64) -> bool {
    timestamp_ms.abs_diff(now_ms) <= tolerance_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_size_rules() {
        assert_eq!(effective_max_size(None, None), 1_560_000);
        assert_eq!(effective_max_size(Some(0), Some(0)), 1_560_000);
        assert_eq!(effective_max_size(Some(-1), None), 7_800_000);
        assert_eq!(effective_max_size(Some(-4), None), 1_950_000);
        assert_eq!(effective_max_size(Some(100), None), 100);
        assert_eq!(effective_max_size(Some(9_000_000), None), 7_800_000);
        assert_eq!(effective_max_size(None, Some(3)), 7_800_000);
        assert_eq!(effective_max_size(Some(i64::MIN), None), 0);
        assert_eq!(effective_max_count(Some(0)), None);
        assert_eq!(effective_max_count(Some(5)), Some(5));
    }

    #[test]
    fn ttl_rules() {
        assert!(ttl_is_valid(Namespace(0), 10_000));
        assert!(!ttl_is_valid(Namespace(0), 9_999));
        assert!(!ttl_is_valid(Namespace(0), -1));
        assert!(ttl_is_valid(Namespace(0), TTL_MAX_PUBLIC_MS as i64));
        assert!(!ttl_is_valid(Namespace(0), TTL_MAX_PUBLIC_MS as i64 + 1));
        assert!(ttl_is_valid(Namespace(2), TTL_MAX_PRIVATE_MS as i64));
        assert!(!ttl_is_valid(Namespace(2), TTL_MAX_PRIVATE_MS as i64 + 1));
        assert!(within_tolerance(1_000, 61_000, SIGNATURE_TOLERANCE_MS));
        assert!(!within_tolerance(1_000, 61_001, SIGNATURE_TOLERANCE_MS));
        assert_eq!(MAX_STORE_DATA_BASE64 / 4 * 3, MAX_STORE_DATA_BYTES);
    }

    proptest::proptest! {
        #[test]
        fn max_size_is_within_budget(size: Option<i64>, count: Option<i64>) {
            let got = effective_max_size(size, count);
            proptest::prop_assert!((0..=RETRIEVE_MAX_SIZE).contains(&got));
        }
    }
}
