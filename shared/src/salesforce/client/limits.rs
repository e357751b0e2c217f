//! The daily API budget: every REST answer says `Sforce-Limit-Info: api-usage=N/MAX`; the client
//! remembers the latest reading and stops *before* a call that would take sf2hs past its share
//! (salesforce.md §3.5; Singer's quota guard), so the org's other integrations keep theirs.
//!
//! The allowance is a rolling 24 hours: it comes back (platform-behaviours.md S7). A guard that
//! only refused would never read a newer header, and a warm process would stop reading
//! Salesforce until restarted; so once its reading is `probe_after` old, one call goes through
//! as a probe, and its answer's reading decides what follows.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::errors::SalesforceError;

pub const LIMIT_INFO_HEADER: &str = "sforce-limit-info";

/// Calls used in the rolling 24 hours and the allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    pub used: u64,
    pub max: u64,
}

impl std::fmt::Display for ApiUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} API calls used", self.used, self.max)
    }
}

impl ApiUsage {
    /// Reads `api-usage=25/5000; per-app-api-usage=17/250(appName=…)` (the org-wide part).
    pub fn parse_header(value: &str) -> Option<Self> {
        value.split(';').find_map(|part| {
            let (key, usage) = part.trim().split_once('=')?;
            if key.trim() != "api-usage" {
                return None;
            }
            let (used, max) = usage.trim().split_once('/')?;
            Some(Self {
                used: used.trim().parse().ok()?,
                max: max.trim().parse().ok()?,
            })
        })
    }
}

/// How long a reading over the share stops calls before one call probes again, by default.
pub const DEFAULT_PROBE_AFTER: Duration = Duration::from_secs(300);

/// Stops before the call that would pass `max_share` of the allowance, and probes again once
/// its reading is `probe_after` old.
#[derive(Debug)]
pub struct QuotaGuard {
    max_share: f64,
    probe_after: Duration,
    /// The latest reading, and when it was taken (or when the last probe went).
    last: Mutex<Option<(ApiUsage, Instant)>>,
}

impl QuotaGuard {
    pub fn new(max_share: f64) -> Self {
        Self::with_probe_after(max_share, DEFAULT_PROBE_AFTER)
    }

    pub fn with_probe_after(max_share: f64, probe_after: Duration) -> Self {
        Self {
            max_share,
            probe_after,
            last: Mutex::new(None),
        }
    }

    pub fn observe(&self, usage: ApiUsage) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some((usage, Instant::now()));
        }
    }

    pub fn last_usage(&self) -> Option<ApiUsage> {
        self.last
            .lock()
            .ok()
            .and_then(|l| l.map(|(usage, _)| usage))
    }

    /// `Err(QuotaGuardStop)` when one more call would exceed the share, unless the reading
    /// that says so is `probe_after` old: then this call goes as a probe (one per interval,
    /// however many callers ask), and its answer brings a new reading. Before the first answer
    /// nothing is known, so the first call always goes.
    pub fn check(&self) -> Result<(), SalesforceError> {
        let Ok(mut last) = self.last.lock() else {
            return Ok(());
        };
        match last.as_mut() {
            Some((usage, at)) if (usage.used + 1) as f64 > self.max_share * usage.max as f64 => {
                if at.elapsed() >= self.probe_after {
                    *at = Instant::now();
                    return Ok(());
                }
                Err(SalesforceError::QuotaGuardStop {
                    used: usage.used,
                    max: usage.max,
                    share: self.max_share,
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fixture_headers() {
        assert_eq!(
            ApiUsage::parse_header("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                max: 5000
            })
        );
        assert_eq!(
            ApiUsage::parse_header(
                "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)"
            ),
            Some(ApiUsage {
                used: 25,
                max: 5000
            })
        );
        assert_eq!(ApiUsage::parse_header("per-app-api-usage=17/250"), None);
    }

    #[test]
    fn stops_before_the_share_is_passed() {
        let guard = QuotaGuard::new(0.8);
        assert!(guard.check().is_ok());
        guard.observe(ApiUsage { used: 79, max: 100 });
        assert!(guard.check().is_ok());
        guard.observe(ApiUsage { used: 80, max: 100 });
        assert!(matches!(
            guard.check(),
            Err(SalesforceError::QuotaGuardStop {
                used: 80,
                max: 100,
                ..
            })
        ));
    }

    #[test]
    fn a_probe_goes_once_the_reading_is_old_and_its_answer_decides() {
        let guard = QuotaGuard::with_probe_after(0.8, Duration::from_millis(30));
        guard.observe(ApiUsage { used: 80, max: 100 });
        assert!(guard.check().is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(guard.check().is_ok(), "one probe");
        assert!(
            guard.check().is_err(),
            "one probe per interval, not one per caller"
        );
        // The probe's answer: the rolling day has moved on.
        guard.observe(ApiUsage { used: 20, max: 100 });
        assert!(guard.check().is_ok());
        // Or it has not: stopped again until the next probe.
        guard.observe(ApiUsage { used: 85, max: 100 });
        assert!(guard.check().is_err());
    }
}
