//! Per-account rate limits (hubspot.md §4.1–4.3): a rolling window (default 190 per 10 s, the
//! current private-app limit), an optional per-second limit and a daily budget.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::errors::RateLimitPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimitConfig {
    /// Requests accepted per rolling window (`X-HubSpot-RateLimit-Max`).
    pub max: u32,
    /// Window length (`X-HubSpot-RateLimit-Interval-Milliseconds`).
    pub interval_ms: u64,
    /// Optional SECONDLY policy.
    pub secondly: Option<u32>,
    /// Daily budget (`X-HubSpot-RateLimit-Daily`); 1,000,000 = Enterprise private app.
    pub daily: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            max: 190,
            interval_ms: 10_000,
            secondly: None,
            daily: 1_000_000,
        }
    }
}

/// A window that counts the requests it accepted in the last `interval`.
#[derive(Debug)]
pub struct RollingWindowLimiter {
    max: u32,
    interval: Duration,
    accepted: VecDeque<Instant>,
}

impl RollingWindowLimiter {
    pub fn new(max: u32, interval: Duration) -> Self {
        Self {
            max,
            interval,
            accepted: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(first) = self.accepted.front() {
            if now.duration_since(*first) >= self.interval {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
    }

    /// Requests still allowed in the window ending now.
    pub fn remaining(&mut self, now: Instant) -> u32 {
        self.expire(now);
        self.max.saturating_sub(self.accepted.len() as u32)
    }

    fn has_room(&mut self, now: Instant) -> bool {
        self.remaining(now) > 0
    }

    fn take(&mut self, now: Instant) {
        self.accepted.push_back(now);
    }
}

/// The values of the rate-limit headers for one response.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitSnapshot {
    pub max: u32,
    pub remaining: u32,
    pub interval_ms: u64,
    pub secondly: Option<(u32, u32)>,
    pub daily: u64,
    pub daily_remaining: u64,
}

impl RateLimitSnapshot {
    /// Adds the headers; the daily ones only for static tokens, never for OAuth (§4.2).
    pub fn apply(&self, headers: &mut HeaderMap, include_daily: bool) {
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        set("x-hubspot-ratelimit-max", self.max.to_string());
        set("x-hubspot-ratelimit-remaining", self.remaining.to_string());
        set(
            "x-hubspot-ratelimit-interval-milliseconds",
            self.interval_ms.to_string(),
        );
        if let Some((max, remaining)) = self.secondly {
            set("x-hubspot-ratelimit-secondly", max.to_string());
            set(
                "x-hubspot-ratelimit-secondly-remaining",
                remaining.to_string(),
            );
        }
        if include_daily {
            set("x-hubspot-ratelimit-daily", self.daily.to_string());
            set(
                "x-hubspot-ratelimit-daily-remaining",
                self.daily_remaining.to_string(),
            );
        }
    }
}

/// All of one account's limits. Rejected requests do not use up the window.
#[derive(Debug)]
pub struct AccountLimiter {
    config: RateLimitConfig,
    rolling: RollingWindowLimiter,
    secondly: Option<RollingWindowLimiter>,
    daily_used: u64,
}

impl AccountLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            rolling: RollingWindowLimiter::new(
                config.max,
                Duration::from_millis(config.interval_ms),
            ),
            secondly: config
                .secondly
                .map(|max| RollingWindowLimiter::new(max, Duration::from_secs(1))),
            daily_used: 0,
        }
    }

    pub fn config(&self) -> RateLimitConfig {
        self.config
    }

    /// Replaces the limits and forgets what was counted.
    pub fn reconfigure(&mut self, config: RateLimitConfig) {
        *self = Self::new(config);
    }

    fn snapshot(&mut self, now: Instant) -> RateLimitSnapshot {
        RateLimitSnapshot {
            max: self.config.max,
            remaining: self.rolling.remaining(now),
            interval_ms: self.config.interval_ms,
            secondly: self.secondly.as_mut().map(|s| (s.max, s.remaining(now))),
            daily: self.config.daily,
            daily_remaining: self.config.daily.saturating_sub(self.daily_used),
        }
    }

    /// Admits one request or names the policy that refuses it.
    pub fn admit(
        &mut self,
        now: Instant,
    ) -> Result<RateLimitSnapshot, (RateLimitPolicy, RateLimitSnapshot)> {
        if self.daily_used >= self.config.daily {
            return Err((RateLimitPolicy::Daily, self.snapshot(now)));
        }
        if let Some(secondly) = self.secondly.as_mut()
            && !secondly.has_room(now)
        {
            return Err((RateLimitPolicy::Secondly, self.snapshot(now)));
        }
        if !self.rolling.has_room(now) {
            return Err((RateLimitPolicy::TenSecondlyRolling, self.snapshot(now)));
        }
        self.rolling.take(now);
        if let Some(secondly) = self.secondly.as_mut() {
            secondly.take(now);
        }
        self.daily_used += 1;
        Ok(self.snapshot(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_window_refuses_then_recovers() {
        let mut limiter = AccountLimiter::new(RateLimitConfig {
            max: 2,
            interval_ms: 1000,
            secondly: None,
            daily: 10,
        });
        let t0 = Instant::now();
        assert!(limiter.admit(t0).is_ok());
        assert!(limiter.admit(t0).is_ok());
        assert!(matches!(
            limiter.admit(t0),
            Err((RateLimitPolicy::TenSecondlyRolling, _))
        ));
        assert!(limiter.admit(t0 + Duration::from_millis(1000)).is_ok());
    }

    #[test]
    fn daily_budget_is_checked_first() {
        let mut limiter = AccountLimiter::new(RateLimitConfig {
            max: 100,
            interval_ms: 1000,
            secondly: Some(100),
            daily: 1,
        });
        let t0 = Instant::now();
        assert!(limiter.admit(t0).is_ok());
        assert!(matches!(
            limiter.admit(t0),
            Err((RateLimitPolicy::Daily, _))
        ));
    }
}
