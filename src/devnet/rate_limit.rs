//! The storage server's per-client rate limiter for direct `/storage_rpc/v1` requests
//! (network.md §1, SS `rpc/rate_limiter.h`): a token bucket per client IP, `BUCKET_SIZE = 600`
//! tokens refilled at `TOKEN_RATE = 300` per second, at most `MAX_CLIENTS = 10,000` buckets.
//! An empty bucket answers 429 `Too many requests, try again later`.
//!
//! Time comes in as an argument (the devnet clock, ms), so the limiter is deterministic.

use std::collections::HashMap;
use std::net::IpAddr;

/// Bucket size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens a client may spend at once.
    pub bucket_size: u32,
    /// Tokens added per second.
    pub tokens_per_second: f64,
}

impl Default for RateLimit {
    /// The real storage server's client limits.
    fn default() -> Self {
        Self {
            bucket_size: 600,
            tokens_per_second: 300.0,
        }
    }
}

/// Buckets are forgotten beyond this many clients (oldest refill first), like SS.
const MAX_CLIENTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated_ms: u64,
}

/// One node's buckets.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    /// A limiter with `limit`.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Spends one token of `client` at `now_ms`; `false` means answer 429.
    pub fn allow(&mut self, client: IpAddr, now_ms: u64) -> bool {
        let limit = self.limit;
        if !self.buckets.contains_key(&client) && self.buckets.len() >= MAX_CLIENTS {
            self.forget_oldest();
        }
        let bucket = self.buckets.entry(client).or_insert(Bucket {
            tokens: f64::from(limit.bucket_size),
            updated_ms: now_ms,
        });
        let elapsed_s = now_ms.saturating_sub(bucket.updated_ms) as f64 / 1000.0;
        bucket.tokens =
            (bucket.tokens + elapsed_s * limit.tokens_per_second).min(f64::from(limit.bucket_size));
        bucket.updated_ms = bucket.updated_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn forget_oldest(&mut self) {
        if let Some(oldest) = self
            .buckets
            .iter()
            .min_by_key(|(_, b)| b.updated_ms)
            .map(|(ip, _)| *ip)
        {
            self.buckets.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn a_full_bucket_allows_its_size_then_refuses() {
        let mut limiter = RateLimiter::new(RateLimit::default());
        for _ in 0..600 {
            assert!(limiter.allow(A, 1_000));
        }
        assert!(!limiter.allow(A, 1_000));
        // Another client has its own bucket.
        assert!(limiter.allow(B, 1_000));
    }

    #[test]
    fn tokens_refill_at_the_rate_and_cap_at_the_bucket() {
        let mut limiter = RateLimiter::new(RateLimit::default());
        for _ in 0..600 {
            limiter.allow(A, 0);
        }
        assert!(!limiter.allow(A, 0));
        // 10 ms at 300/s is 3 tokens.
        for _ in 0..3 {
            assert!(limiter.allow(A, 10));
        }
        assert!(!limiter.allow(A, 10));
        // A long pause refills to the bucket size, not beyond.
        for _ in 0..600 {
            assert!(limiter.allow(A, 1_000_000));
        }
        assert!(!limiter.allow(A, 1_000_000));
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let mut limiter = RateLimiter::new(RateLimit {
            bucket_size: 1,
            tokens_per_second: 1.0,
        });
        assert!(limiter.allow(A, 5_000));
        assert!(!limiter.allow(A, 1_000));
        assert!(!limiter.allow(A, 5_000));
        assert!(limiter.allow(A, 6_000));
    }

    #[test]
    fn client_table_is_bounded() {
        let mut limiter = RateLimiter::new(RateLimit::default());
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            limiter.allow(IpAddr::V4(std::net::Ipv4Addr::from(i)), u64::from(i));
        }
        assert_eq!(limiter.buckets.len(), MAX_CLIENTS);
    }
}
