//! The org's clock for record stamps: monotonic, second-precision like Salesforce's
//! `SystemModstamp`, moved by each change and by tests. Token lifetimes use real time instead,
//! because clients sign JWTs with the real clock.

use chrono::{DateTime, TimeDelta, Timelike, Utc};

#[derive(Debug, Clone)]
pub struct OrgClock {
    now: DateTime<Utc>,
    step: TimeDelta,
}

impl OrgClock {
    pub fn new(start: DateTime<Utc>, step: TimeDelta) -> Self {
        Self {
            now: start.with_nanosecond(0).unwrap_or(start),
            step: step.max(TimeDelta::zero()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The stamp of one change: the clock moves by its step first.
    pub fn tick(&mut self) -> DateTime<Utc> {
        self.now += self.step;
        self.now
    }

    /// Moves the clock forward; a negative amount is ignored (the clock never goes back).
    pub fn advance(&mut self, by: TimeDelta) {
        if by > TimeDelta::zero() {
            self.now += by;
        }
    }
}
