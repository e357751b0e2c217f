//! The daily API request allowance: every authenticated REST call counts, every answer carries
//! `Sforce-Limit-Info: api-usage=N/MAX`, and past MAX Core REST answers 403
//! `REQUEST_LIMIT_EXCEEDED` (not 429; salesforce.md §3.5, §4.3).

use axum::http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

pub const LIMIT_INFO_HEADER: &str = "sforce-limit-info";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    pub used: u64,
    pub max: u64,
}

impl ApiUsage {
    pub fn new(max: u64) -> Self {
        Self { used: 0, max }
    }

    /// Counts one call; `false` when the allowance is used up (the call is refused, uncounted).
    pub fn admit(&mut self) -> bool {
        if self.used >= self.max {
            return false;
        }
        self.used += 1;
        true
    }

    pub fn apply(&self, headers: &mut HeaderMap) {
        if let Ok(value) = HeaderValue::from_str(&format!("api-usage={}/{}", self.used, self.max)) {
            headers.insert(LIMIT_INFO_HEADER, value);
        }
    }
}
