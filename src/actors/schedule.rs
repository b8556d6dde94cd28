//! Timing rules, kept pure so they can be tested without clocks: the adaptive poll interval
//! (Session Desktop polls its own swarm every 5 s while active and backs off to 60 s / 120 s,
//! `network.md` §7.1), jitter so that thousands of accounts spread their polls, and the capped
//! exponential backoff of send retries and actor restarts.

use rand::Rng;

use super::ActorSettings;

/// The poll interval for an account whose last traffic was `since_activity_ms` ago.
pub fn poll_interval(settings: &ActorSettings, since_activity_ms: u64) -> u64 {
    if since_activity_ms < settings.active_window_ms {
        settings.poll_active_ms
    } else if since_activity_ms < settings.quiet_window_ms {
        settings.poll_quiet_ms
    } else {
        settings.poll_idle_ms
    }
}

/// Polls in a row that a "more messages wait" answer may follow at once. A backlog drains
/// this many pages without delay; past it, re-polls are spaced by [`after_more`], so a member
/// that claims `more` with every page (and new items to show for it: a member claiming it
/// with nothing new is not believed at all) cannot make the account poll in a tight loop.
pub const MORE_BURST: u32 = 16;

/// The delay before the next poll when the last one said more messages wait and `run` polls
/// in a row (this one included) have said so: none within [`MORE_BURST`], then a quarter of
/// the active interval (at least 50 ms), still well above the normal rate.
pub fn after_more(run: u32, active_ms: u64) -> u64 {
    if run <= MORE_BURST {
        0
    } else {
        (active_ms / 4).max(50)
    }
}

/// `base` scaled by a uniform factor in [0.8, 1.2]: neighbours drift apart instead of polling
/// in lockstep.
pub fn jittered<R: Rng>(rng: &mut R, base_ms: u64) -> u64 {
    let spread = base_ms / 5;
    if spread == 0 {
        return base_ms;
    }
    rng.gen_range(base_ms - spread..=base_ms + spread)
}

/// The first poll after start: uniform in [0, `active_ms`], so 10,000 accounts starting
/// together do not all poll in the first second.
pub fn first_poll<R: Rng>(rng: &mut R, active_ms: u64) -> u64 {
    rng.gen_range(0..=active_ms)
}

/// Delay before retry number `attempt` (1-based): the cap is `initial · 2^(attempt−1)`, at most
/// `max`; the delay is uniform in [cap/2, cap] ("equal jitter": never zero, still spread).
pub fn backoff<R: Rng>(rng: &mut R, attempt: u32, initial_ms: u64, max_ms: u64) -> u64 {
    let shift = attempt.saturating_sub(1).min(32);
    let cap = initial_ms.saturating_mul(1u64 << shift).min(max_ms).max(1);
    rng.gen_range(cap / 2..=cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng as _;

    fn settings() -> ActorSettings {
        ActorSettings {
            poll_active_ms: 5_000,
            poll_quiet_ms: 60_000,
            poll_idle_ms: 120_000,
            active_window_ms: 120_000,
            quiet_window_ms: 3_600_000,
            send_max_attempts: 8,
            send_initial_backoff_ms: 1_000,
            send_max_backoff_ms: 60_000,
            send_deadline_ms: 3_600_000,
            path_check_ms: 30_000,
            restart_backoff_ms: 1_000,
            attachment_retry_ms: 60_000,
            retention: Default::default(),
            retention_interval_ms: 60_000,
        }
    }

    #[test]
    fn interval_slows_down_as_the_account_goes_quiet() {
        let s = settings();
        assert_eq!(poll_interval(&s, 0), 5_000);
        assert_eq!(poll_interval(&s, 119_999), 5_000);
        assert_eq!(poll_interval(&s, 120_000), 60_000);
        assert_eq!(poll_interval(&s, 3_600_000), 120_000);
        assert_eq!(poll_interval(&s, u64::MAX), 120_000);
    }

    #[test]
    fn more_drains_a_burst_at_once_then_is_rate_bounded() {
        // An honest backlog of MORE_BURST pages drains without any delay.
        assert!((1..=MORE_BURST).all(|run| after_more(run, 5_000) == 0));
        // A member that says `more` forever: at most MORE_BURST immediate polls, then at
        // most one every 1.25 s, whatever it keeps saying; never a delay of zero again.
        let polls_in_a_minute = {
            let (mut run, mut elapsed, mut polls) = (0u32, 0u64, 0u32);
            while elapsed < 60_000 {
                run = run.saturating_add(1);
                polls += 1;
                elapsed += after_more(run, 5_000).max(1);
            }
            polls
        };
        assert!(
            polls_in_a_minute <= MORE_BURST + 60_000 / 1_250 + 1,
            "{polls_in_a_minute}"
        );
        assert_eq!(after_more(u32::MAX, 5_000), 1_250);
        assert_eq!(after_more(MORE_BURST + 1, 40), 50, "never below 50 ms");
    }

    #[test]
    fn jitter_stays_within_a_fifth_and_spreads() {
        let mut rng = StdRng::seed_from_u64(7);
        let draws: Vec<u64> = (0..1000).map(|_| jittered(&mut rng, 5_000)).collect();
        assert!(draws.iter().all(|d| (4_000..=6_000).contains(d)));
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(distinct.len() > 500);
        assert_eq!(jittered(&mut rng, 3), 3);
        let firsts: Vec<u64> = (0..1000).map(|_| first_poll(&mut rng, 5_000)).collect();
        assert!(firsts.iter().any(|d| *d < 1_000) && firsts.iter().any(|d| *d > 4_000));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut rng = StdRng::seed_from_u64(1);
        for attempt in 1..40 {
            let cap = (1_000u64 << (attempt - 1).min(32)).min(60_000);
            let d = backoff(&mut rng, attempt, 1_000, 60_000);
            assert!(d >= cap / 2 && d <= cap, "attempt {attempt}: {d}");
        }
        assert!(backoff(&mut rng, 0, 0, 0) <= 1);
    }
}
