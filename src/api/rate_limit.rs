//! Request rate limits (issue 15): per API key, per client IP before authentication, and per
//! account for sends. Each is a keyed GCRA limiter from `governor`; a refusal becomes a 429
//! `rate_limited` with `Retry-After` (see [`ApiError::RateLimited`]).
//!
//! * Per key: every request authenticated by an API key (admin-scoped ones too) takes a cell
//!   from that key's bucket. The configured `api.admin_key` is exempt, so an operator can
//!   always reach a gateway that a runaway client is hammering (to revoke that client's key).
//! * Per IP: a request whose key is missing or wrong takes a cell from its peer address's
//!   bucket; once that bucket is empty the address is refused *before* its key is looked at,
//!   until the bucket refills, so keys cannot be guessed faster than the configured rate (not
//!   even a right guess gets through meanwhile). Authenticated traffic never touches it, so
//!   clients behind one proxy do not share a budget.
//! * Per account: `POST …/messages` takes a cell from the sending account's bucket
//!   (`sending.max_per_minute`), so a bot cannot flood the network whatever keys it holds.
//!
//! The state is per replica (in memory): with N replicas behind a balancer a client may get
//! up to N times the rate. That bounds abuse without a database write per request.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::ApiError;
use crate::config::Settings;

/// Forget idle keys every this many checks, so a stream of new client addresses cannot grow
/// the state without bound.
const PRUNE_EVERY: u64 = 4096;

/// Upper bound on addresses currently refused before authentication.
const MAX_BLOCKED_IPS: usize = 100_000;

/// One keyed limiter and its pruning counter.
struct Keyed<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(quota: Quota) -> Self {
        Self {
            limiter: RateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one cell from `key`'s bucket, or says how long until one is free.
    fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

/// Every limiter the API applies; `None` where the setting is 0 (off).
pub struct RateLimits {
    keys: Option<Keyed<String>>,
    ips: Option<Keyed<IpAddr>>,
    /// Addresses refused before authentication, and until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    sends: Option<Keyed<String>>,
}

impl RateLimits {
    /// The limits `settings` ask for (`api.rate_limit_per_sec`, `api.rate_limit_burst`,
    /// `sending.max_per_minute`).
    pub fn new(settings: &Settings) -> Self {
        let api = NonZeroU32::new(settings.api.rate_limit_per_sec).map(|rate| {
            let burst = NonZeroU32::new(settings.api.rate_limit_burst).unwrap_or(rate);
            Quota::per_second(rate).allow_burst(burst)
        });
        let sends = NonZeroU32::new(settings.sending.max_per_minute).map(Quota::per_minute);
        Self {
            keys: api.map(Keyed::new),
            ips: api.map(Keyed::new),
            blocked: Mutex::new(HashMap::new()),
            sends: sends.map(Keyed::new),
        }
    }

    /// No limits at all.
    pub fn off() -> Self {
        Self::new(&Settings::default())
    }

    /// A request authenticated by the API key `key_id`.
    pub fn check_key(&self, key_id: &str) -> Result<(), ApiError> {
        match &self.keys {
            Some(keys) => keys.check(&key_id.to_owned()).map_err(refused),
            None => Ok(()),
        }
    }

    /// Before authentication: refuses an address whose bucket of failed attempts is empty.
    pub fn check_ip_before_auth(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(ip) = ip.filter(|_| self.ips.is_some()) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        match blocked.get(&ip) {
            Some(until) if *until > now => Err(refused(*until - now)),
            Some(_) => {
                blocked.remove(&ip);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// After a failed authentication: takes a cell from the address's bucket; when it is
    /// empty, the address is refused before authentication until a cell is free, and this
    /// request gets the 429 too.
    pub fn failed_auth(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let (Some(ips), Some(ip)) = (&self.ips, ip) else {
            return Ok(());
        };
        let wait = match ips.check(&ip) {
            Ok(()) => return Ok(()),
            Err(wait) => wait,
        };
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        if blocked.len() >= MAX_BLOCKED_IPS {
            blocked.retain(|_, until| *until > now);
        }
        if blocked.len() < MAX_BLOCKED_IPS {
            blocked.insert(ip, now + wait);
        }
        Err(refused(wait))
    }

    /// A send from `account` (`sending.max_per_minute`).
    pub fn check_send(&self, account: &str) -> Result<(), ApiError> {
        match &self.sends {
            Some(sends) => sends.check(&account.to_owned()).map_err(refused),
            None => Ok(()),
        }
    }
}

/// The 429 for a wait: `Retry-After` in whole seconds, rounded up, at least 1.
fn refused(wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::RateLimited {
        retry_after_secs: secs.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_sec: u32, burst: u32, per_minute: u32) -> Settings {
        let mut s = Settings::default();
        s.api.rate_limit_per_sec = per_sec;
        s.api.rate_limit_burst = burst;
        s.sending.max_per_minute = per_minute;
        s
    }

    fn retry_after(e: ApiError) -> u64 {
        match e {
            ApiError::RateLimited { retry_after_secs } => retry_after_secs,
            other => panic!("not a 429: {other:?}"),
        }
    }

    #[test]
    fn off_by_default() {
        let limits = RateLimits::off();
        for _ in 0..10_000 {
            limits.check_key("k").unwrap();
            limits.check_send("a").unwrap();
            limits.failed_auth(Some([127, 0, 0, 1].into())).unwrap();
        }
    }

    #[test]
    fn a_key_gets_its_burst_then_429_and_keys_are_separate() {
        let limits = RateLimits::new(&settings(1, 5, 0));
        for _ in 0..5 {
            limits.check_key("a").unwrap();
        }
        let wait = retry_after(limits.check_key("a").unwrap_err());
        assert!((1..=1).contains(&wait), "{wait}");
        limits.check_key("b").unwrap();
    }

    #[test]
    fn failed_auth_blocks_the_address_before_auth() {
        let limits = RateLimits::new(&settings(1, 2, 0));
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        limits.check_ip_before_auth(ip).unwrap();
        limits.failed_auth(ip).unwrap();
        limits.failed_auth(ip).unwrap();
        assert!(limits.failed_auth(ip).is_err());
        assert!(limits.check_ip_before_auth(ip).is_err());
        limits
            .check_ip_before_auth(Some([10, 0, 0, 2].into()))
            .unwrap();
    }

    #[test]
    fn sends_are_paced_per_account() {
        let limits = RateLimits::new(&settings(0, 0, 3));
        for _ in 0..3 {
            limits.check_send("a").unwrap();
        }
        let wait = retry_after(limits.check_send("a").unwrap_err());
        assert!((19..=20).contains(&wait), "{wait}");
        limits.check_send("b").unwrap();
    }
}
