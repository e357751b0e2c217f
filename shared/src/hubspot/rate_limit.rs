//! One limiter per HubSpot account, sized from `X-HubSpot-RateLimit-Max` and
//! `-Interval-Milliseconds` and adapting to `-Remaining` (hubspot.md §4.1–4.2).
//!
//! Why not `governor`: it implements GCRA, which after a full burst keeps admitting one request
//! per `interval / max`, so up to ~2×max requests can land inside one rolling window. HubSpot
//! counts a *rolling* window (TEN_SECONDLY_ROLLING), so this keeps the timestamps of the last
//! window instead. A request holds its slot from the moment it is sent until `interval` after its
//! answer arrived: HubSpot counted it somewhere in between, so the slot is never freed early.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::config::RateLimitSettings;

/// How long to wait before looking again when every slot is held by a request in flight.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(20);

/// The most requests one account's limiter lets fly at once, however slow the answers (the
/// client's `max_concurrent_requests` may set a lower ceiling).
const MOST_IN_FLIGHT: u32 = 16;

/// The answer time assumed before any answer: HubSpot's batch calls take a few hundred ms.
const FIRST_ANSWER_TIME: Duration = Duration::from_millis(200);

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub max: Option<u32>,
    pub interval: Option<Duration>,
    pub remaining: Option<u32>,
}

impl RateLimitHeaders {
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Self {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            max: number("x-hubspot-ratelimit-max").and_then(|v| u32::try_from(v).ok()),
            interval: number("x-hubspot-ratelimit-interval-milliseconds")
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis),
            remaining: number("x-hubspot-ratelimit-remaining").and_then(|v| u32::try_from(v).ok()),
        }
    }
}

#[derive(Debug)]
struct Window {
    max: u32,
    interval: Duration,
    /// Answer times of finished requests (and stand-ins for other integrations' requests),
    /// oldest first.
    finished: VecDeque<Instant>,
    in_flight: u32,
    paused_until: Option<Instant>,
    /// A moving average of the time from send to answer.
    answer_time: Duration,
    /// The most requests in flight however slow the answers (the client's own ceiling).
    most_in_flight: u32,
}

impl Window {
    fn expire(&mut self, now: Instant) {
        while let Some(first) = self.finished.front() {
            if now.saturating_duration_since(*first) >= self.interval {
                self.finished.pop_front();
            } else {
                break;
            }
        }
    }

    fn used(&self) -> u32 {
        u32::try_from(self.finished.len())
            .unwrap_or(u32::MAX)
            .saturating_add(self.in_flight)
    }

    /// Takes a slot, or says how long to wait for one.
    fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(until) = self.paused_until {
            if until > now {
                return Err(until - now);
            }
            self.paused_until = None;
        }
        self.expire(now);
        if self.in_flight >= self.allowed_in_flight() {
            return Err(IN_FLIGHT_POLL);
        }
        if self.used() < self.max.max(1) {
            self.in_flight += 1;
            return Ok(());
        }
        let wait = self
            .finished
            .front()
            .map(|first| (*first + self.interval).saturating_duration_since(now))
            .unwrap_or(IN_FLIGHT_POLL);
        Err(wait.max(Duration::from_millis(1)))
    }

    fn finish(&mut self, now: Instant, sent: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.finished.push_back(now);
        // An eighth of each new answer: a few slow answers move it, one outlier does not.
        let took = now.saturating_duration_since(sent);
        self.answer_time = (self.answer_time * 7 + took) / 8;
    }

    /// Requests in flight that keep the window's rate going while answers take `answer_time`
    /// (Little's law: rate × time in flight), one more for the spread, at least two. A fixed
    /// four capped throughput at 4 / answer time: 75 % of the ceiling at 280 ms answers.
    fn allowed_in_flight(&self) -> u32 {
        let rate = f64::from(self.max.max(1)) / self.interval.as_secs_f64().max(0.001);
        let needed = (rate * self.answer_time.as_secs_f64()).ceil() as u32 + 1;
        needed.clamp(2, self.most_in_flight.max(2))
    }
}

/// The account's request budget, shared by every clone.
#[derive(Debug, Clone)]
pub struct AccountRateLimiter {
    window: Arc<Mutex<Window>>,
    settings: RateLimitSettings,
}

/// A sent request's slot; dropping it (answer, error or cancellation) starts its cool-down.
#[derive(Debug)]
pub struct RequestSlot {
    window: Arc<Mutex<Window>>,
    sent: Instant,
}

impl Drop for RequestSlot {
    fn drop(&mut self) {
        lock(&self.window).finish(Instant::now(), self.sent);
    }
}

/// A poisoned lock only means another request panicked mid-update; the counts stay usable.
fn lock(window: &Mutex<Window>) -> MutexGuard<'_, Window> {
    window
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AccountRateLimiter {
    pub fn new(settings: RateLimitSettings) -> Self {
        let max = settings
            .max_requests
            .saturating_sub(settings.reserved_for_others);
        Self {
            window: Arc::new(Mutex::new(Window {
                max,
                interval: settings.interval,
                finished: VecDeque::new(),
                in_flight: 0,
                paused_until: None,
                answer_time: FIRST_ANSWER_TIME,
                most_in_flight: MOST_IN_FLIGHT,
            })),
            settings,
        }
    }

    /// Waits for a slot in the rolling window.
    pub async fn acquire(&self) -> RequestSlot {
        loop {
            let attempt = lock(&self.window).try_take(Instant::now());
            match attempt {
                Ok(()) => {
                    return RequestSlot {
                        window: self.window.clone(),
                        sent: Instant::now(),
                    };
                }
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Requests counted in the rolling window now (in flight, answered, and other
    /// integrations' as HubSpot reported them), with the window's `(max, interval)`.
    pub fn usage(&self) -> (u32, u32, Duration) {
        let mut window = lock(&self.window);
        window.expire(Instant::now());
        (window.used(), window.max, window.interval)
    }

    /// Current `(max, interval)`.
    pub fn limits(&self) -> (u32, Duration) {
        let window = lock(&self.window);
        (window.max, window.interval)
    }

    /// Adopts HubSpot's numbers. When HubSpot has counted more requests than this client sent,
    /// other integrations share the account: their use is added to the window.
    pub fn observe(&self, headers: RateLimitHeaders) {
        if !self.settings.adapt_to_headers {
            return;
        }
        let mut window = lock(&self.window);
        let now = Instant::now();
        if let Some(max) = headers.max.filter(|m| *m > 0) {
            window.max = max.saturating_sub(self.settings.reserved_for_others).max(1);
        }
        if let Some(interval) = headers.interval {
            window.interval = interval;
        }
        if let (Some(max), Some(remaining)) = (headers.max, headers.remaining) {
            window.expire(now);
            let counted_by_hubspot = max.saturating_sub(remaining);
            let counted_here = window.used();
            for _ in counted_here..counted_by_hubspot {
                window.finished.push_back(now);
            }
        }
    }

    /// Holds every request back for `wait` (a 429 without usable headers: wait out the window).
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut window = lock(&self.window);
        if window.paused_until.is_none_or(|current| current < until) {
            window.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max: u32, interval_ms: u64) -> RateLimitSettings {
        RateLimitSettings {
            max_requests: max,
            interval: Duration::from_millis(interval_ms),
            ..RateLimitSettings::default()
        }
    }

    #[test]
    fn a_full_window_waits_for_its_oldest_answer() {
        let mut window = Window {
            max: 2,
            interval: Duration::from_millis(1000),
            finished: VecDeque::new(),
            in_flight: 0,
            paused_until: None,
            answer_time: FIRST_ANSWER_TIME,
            most_in_flight: MOST_IN_FLIGHT,
        };
        let t0 = Instant::now();
        assert!(window.try_take(t0).is_ok());
        assert!(window.try_take(t0).is_ok());
        // Both in flight: nothing to expire yet, so poll.
        assert_eq!(window.try_take(t0), Err(IN_FLIGHT_POLL));
        window.finish(t0 + Duration::from_millis(100), t0);
        window.finish(t0 + Duration::from_millis(200), t0);
        assert_eq!(
            window.try_take(t0 + Duration::from_millis(600)),
            Err(Duration::from_millis(500))
        );
        assert!(window.try_take(t0 + Duration::from_millis(1100)).is_ok());
    }

    /// Slow answers let more requests fly (rate × answer time, plus one); fast ones fewer;
    /// never past the ceiling.
    #[test]
    fn requests_in_flight_follow_the_window_rate_and_the_answer_time() {
        let mut window = Window {
            max: 190,
            interval: Duration::from_secs(10),
            finished: VecDeque::new(),
            in_flight: 0,
            paused_until: None,
            answer_time: FIRST_ANSWER_TIME,
            most_in_flight: MOST_IN_FLIGHT,
        };
        // 19 per second × 200 ms = 3.8: four, and one for the spread.
        assert_eq!(window.allowed_in_flight(), 5);
        let t0 = Instant::now();
        for n in 0..40 {
            let sent = t0 + Duration::from_secs(n);
            window.finish(sent + Duration::from_millis(600), sent);
        }
        // 19 × 0.6 s = 11.4: twelve, and one.
        assert_eq!(window.allowed_in_flight(), 13);
        window.answer_time = Duration::from_secs(5);
        assert_eq!(window.allowed_in_flight(), MOST_IN_FLIGHT, "the ceiling");
        window.answer_time = Duration::from_millis(10);
        assert_eq!(window.allowed_in_flight(), 2, "at least two");
        window.in_flight = 2;
        assert_eq!(
            window.try_take(t0),
            Err(IN_FLIGHT_POLL),
            "two in flight: wait"
        );
    }

    #[tokio::test]
    async fn headers_resize_and_count_other_integrations() {
        let limiter = AccountRateLimiter::new(settings(190, 10_000));
        limiter.observe(RateLimitHeaders {
            max: Some(100),
            interval: Some(Duration::from_millis(5_000)),
            remaining: Some(60),
        });
        assert_eq!(limiter.limits(), (100, Duration::from_millis(5_000)));
        // HubSpot counted 40 requests this client never sent.
        assert_eq!(lock(&limiter.window).used(), 40);
        let slot = limiter.acquire().await;
        assert_eq!(lock(&limiter.window).used(), 41);
        drop(slot);
        assert_eq!(lock(&limiter.window).in_flight, 0);
    }

    #[test]
    fn reserve_leaves_room_for_others() {
        let limiter = AccountRateLimiter::new(RateLimitSettings {
            reserved_for_others: 40,
            ..settings(190, 10_000)
        });
        assert_eq!(limiter.limits().0, 150);
        limiter.observe(RateLimitHeaders {
            max: Some(250),
            ..RateLimitHeaders::default()
        });
        assert_eq!(limiter.limits().0, 210);
    }

    #[test]
    fn a_pause_holds_every_request() {
        let limiter = AccountRateLimiter::new(settings(10, 1_000));
        limiter.pause_for(Duration::from_secs(5));
        let wait = lock(&limiter.window).try_take(Instant::now());
        assert!(matches!(wait, Err(d) if d > Duration::from_secs(4)));
    }
}
