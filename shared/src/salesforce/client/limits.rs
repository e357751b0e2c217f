//! The daily API budget: every REST answer says `Sforce-Limit-Info: api-usage=N/MAX`; the client
//! remembers the latest reading and stops *before* a call that would take sf2hs past its share
//! (salesforce.md §3.5; Singer's quota guard), so the org's other integrations keep theirs.

use std::sync::Mutex;

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

/// Stops before the call that would pass `max_share` of the allowance.
#[derive(Debug)]
pub struct QuotaGuard {
    max_share: f64,
    last: Mutex<Option<ApiUsage>>,
}

impl QuotaGuard {
    pub fn new(max_share: f64) -> Self {
        Self {
            max_share,
            last: Mutex::new(None),
        }
    }

    pub fn observe(&self, usage: ApiUsage) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(usage);
        }
    }

    pub fn last_usage(&self) -> Option<ApiUsage> {
        self.last.lock().ok().and_then(|l| *l)
    }

    /// `Err(QuotaGuardStop)` when one more call would exceed the share. Before the first answer
    /// nothing is known, so the first call always goes.
    pub fn check(&self) -> Result<(), SalesforceError> {
        match self.last_usage() {
            Some(usage) if (usage.used + 1) as f64 > self.max_share * usage.max as f64 => {
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
}
