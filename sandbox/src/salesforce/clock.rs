//! The org's clock for record stamps: monotonic and whole seconds like Salesforce's
//! `SystemModstamp`, `LastModifiedDate` and CDC `commitTimestamp` (platform-behaviours.md S1):
//! several changes share one second, so several changes of one record can carry the same
//! stamp. The clock moves one step after every `changes_per_stamp` changes, and when a test
//! advances it. Token lifetimes use real time instead, because clients sign JWTs with the real
//! clock.

use chrono::{DateTime, TimeDelta, Timelike, Utc};

#[derive(Debug, Clone)]
pub struct OrgClock {
    now: DateTime<Utc>,
    step: TimeDelta,
    /// How many changes share one stamp before the clock moves (at least 1).
    changes_per_stamp: u32,
    /// Changes stamped with `now` so far.
    used: u32,
}

impl OrgClock {
    pub fn new(start: DateTime<Utc>, step: TimeDelta, changes_per_stamp: u32) -> Self {
        Self {
            now: start.with_nanosecond(0).unwrap_or(start),
            step: step.max(TimeDelta::zero()),
            changes_per_stamp: changes_per_stamp.max(1),
            used: 0,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The stamp of one change: the current second until `changes_per_stamp` changes have
    /// it, then the clock moves by its step.
    pub fn tick(&mut self) -> DateTime<Utc> {
        if self.used >= self.changes_per_stamp {
            self.now += self.step;
            self.used = 0;
        }
        self.used += 1;
        self.now
    }

    /// Moves the clock forward; a negative amount is ignored (the clock never goes back).
    pub fn advance(&mut self, by: TimeDelta) {
        if by > TimeDelta::zero() {
            self.now += by;
            self.used = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_share_a_whole_second_until_it_is_full() {
        let start = "2026-12-01T09:00:00.700Z"
            .parse::<DateTime<Utc>>()
            .expect("time");
        let mut clock = OrgClock::new(start, TimeDelta::seconds(1), 3);
        let stamps: Vec<u32> = (0..7).map(|_| clock.tick().second()).collect();
        assert_eq!(stamps, [0, 0, 0, 1, 1, 1, 2]);
        assert_eq!(clock.now().nanosecond(), 0, "whole seconds");
        clock.advance(TimeDelta::seconds(10));
        assert_eq!(clock.tick().second(), 12);
        assert_eq!(
            clock.tick().second(),
            12,
            "the advanced second is shared too"
        );
    }
}
