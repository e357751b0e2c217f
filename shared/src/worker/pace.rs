//! When a local worker's batch is written: as soon as it is full, or as soon as the portal's
//! rate budget allows another call at the live path's share of what remains.
//!
//! A fixed window (the previous rule) waits the same 250 ms whether the portal is idle or
//! nearly spent: at 100 changes/s that was a p99 of 290 ms for 61 calls per 1,000. Here calls are
//! spaced by `interval / (share × remaining)`: on an idle portal (190 per 10 s, share ½) one call
//! every 105 ms, a batch waiting about that long; as a backfill or another integration spends
//! the window, the spacing grows (up to the longest window), so the live path never takes the
//! budget the others need. Under 1,000 changes/s the batches fill to 100 first and the spacing
//! never binds. Only one worker gathers at a time (the others process meanwhile), so the
//! spacing is the process's, not each worker's.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A rate budget to pace by: the account's requests in the window now, its max and interval.
pub trait RateBudget: Send + Sync {
    fn usage(&self) -> (u32, u32, Duration);
}

impl RateBudget for crate::hubspot::rate_limit::AccountRateLimiter {
    fn usage(&self) -> (u32, u32, Duration) {
        crate::hubspot::rate_limit::AccountRateLimiter::usage(self)
    }
}

/// The share of the remaining budget the live path spends when nothing else waits: half, so an
/// import or another integration always finds the other half.
pub const LIVE_SHARE: f64 = 0.5;

/// Paces one process's batches (shared by its workers).
pub struct BatchPacer {
    budget: Box<dyn RateBudget>,
    share: f64,
    /// The longest a batch gathers, however spent the budget.
    longest: Duration,
    /// One gatherer at a time.
    pub(super) gate: tokio::sync::Mutex<()>,
    last_batch: Mutex<Option<Instant>>,
}

impl BatchPacer {
    pub fn new(budget: Box<dyn RateBudget>, share: f64, longest: Duration) -> Self {
        Self {
            budget,
            share: share.clamp(0.01, 1.0),
            longest,
            gate: tokio::sync::Mutex::new(()),
            last_batch: Mutex::new(None),
        }
    }

    /// The spacing between two batches the budget allows now.
    pub fn spacing(&self) -> Duration {
        let (used, max, interval) = self.budget.usage();
        let remaining = f64::from(max.saturating_sub(used).max(1));
        let per_second = self.share * remaining / interval.as_secs_f64().max(0.001);
        Duration::from_secs_f64(1.0 / per_second).min(self.longest)
    }

    /// When the batch being gathered may go: `spacing` after the previous one, but never later
    /// than `longest` after its first change arrived.
    pub(super) fn due(&self, first_arrival: Instant) -> Instant {
        let last = *self
            .last_batch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let paced = match last {
            Some(last) => last + self.spacing(),
            None => first_arrival,
        };
        paced.min(first_arrival + self.longest)
    }

    pub(super) fn batch_sent(&self, at: Instant) {
        *self
            .last_batch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    struct Budget(AtomicU32);

    impl RateBudget for &'static Budget {
        fn usage(&self) -> (u32, u32, Duration) {
            (self.0.load(Ordering::Relaxed), 190, Duration::from_secs(10))
        }
    }

    #[test]
    fn the_spacing_grows_as_the_budget_is_spent_and_stops_at_the_longest_window() {
        let budget: &'static Budget = Box::leak(Box::new(Budget(AtomicU32::new(0))));
        let pacer = BatchPacer::new(Box::new(budget), LIVE_SHARE, Duration::from_millis(250));
        let idle = pacer.spacing();
        assert!(
            (Duration::from_millis(100)..Duration::from_millis(110)).contains(&idle),
            "{idle:?}"
        );
        budget.0.store(150, Ordering::Relaxed);
        assert_eq!(
            pacer.spacing(),
            Duration::from_millis(250),
            "40 left: 500 ms, capped"
        );
        budget.0.store(100, Ordering::Relaxed);
        let busy = pacer.spacing();
        assert!(
            busy > idle * 2 && busy < Duration::from_millis(250),
            "{busy:?}"
        );
    }

    #[test]
    fn a_batch_goes_a_spacing_after_the_previous_one_or_at_once_after_a_pause() {
        let budget: &'static Budget = Box::leak(Box::new(Budget(AtomicU32::new(0))));
        let pacer = BatchPacer::new(Box::new(budget), LIVE_SHARE, Duration::from_millis(250));
        let now = Instant::now();
        assert_eq!(pacer.due(now), now, "the first batch waits for nothing");
        pacer.batch_sent(now);
        let due = pacer.due(now + Duration::from_millis(10));
        assert_eq!(due, now + pacer.spacing());
        // Long after the last batch, a new first change goes at once.
        let later = now + Duration::from_secs(5);
        assert_eq!(pacer.due(later), now + pacer.spacing());
        assert!(pacer.due(later) < later);
    }
}
