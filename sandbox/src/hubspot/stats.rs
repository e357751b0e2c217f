//! Request statistics for tests and benchmarks: calls per route, inputs per call, 429s,
//! injected faults, and the busiest rolling window of accepted requests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Window the busiest-window statistic uses (HubSpot's burst interval).
pub const BUSIEST_WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct RequestStats {
    started: Instant,
    calls_by_route: BTreeMap<String, u64>,
    max_inputs_by_route: BTreeMap<String, usize>,
    total_inputs_by_route: BTreeMap<String, u64>,
    status_counts: BTreeMap<u16, u64>,
    /// Milliseconds since `started` of each request the rate limiter accepted.
    accepted_at_ms: Vec<u64>,
    rate_limited: u64,
    injected_429: u64,
    injected_5xx: u64,
    injected_hangs: u64,
    unauthorized: u64,
}

impl Default for RequestStats {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            calls_by_route: BTreeMap::new(),
            max_inputs_by_route: BTreeMap::new(),
            total_inputs_by_route: BTreeMap::new(),
            status_counts: BTreeMap::new(),
            accepted_at_ms: Vec::new(),
            rate_limited: 0,
            injected_429: 0,
            injected_5xx: 0,
            injected_hangs: 0,
            unauthorized: 0,
        }
    }
}

/// What a fault decision did, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFault {
    TooManyRequests,
    ServerError,
    Hang,
}

/// A copy of the statistics, serialisable for the admin route.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StatsSnapshot {
    /// `"POST /crm/objects/{objectType}/batch/upsert"`: version segments removed, so the
    /// legacy and date-based paths count together.
    pub calls_by_route: BTreeMap<String, u64>,
    pub max_inputs_by_route: BTreeMap<String, usize>,
    pub total_inputs_by_route: BTreeMap<String, u64>,
    pub max_inputs_per_call: usize,
    pub status_counts: BTreeMap<u16, u64>,
    pub total_requests: u64,
    pub accepted_requests: u64,
    /// 429s from the limiter (not injected).
    pub rate_limited_429: u64,
    pub injected_429: u64,
    pub injected_5xx: u64,
    pub injected_hangs: u64,
    pub unauthorized: u64,
    /// Most requests accepted within any 10-second window.
    pub busiest_10s_window: usize,
}

impl StatsSnapshot {
    /// Calls to every route whose key contains `fragment` (e.g. `"batch/upsert"`).
    pub fn calls_matching(&self, fragment: &str) -> u64 {
        self.calls_by_route
            .iter()
            .filter(|(k, _)| k.contains(fragment))
            .map(|(_, v)| v)
            .sum()
    }
}

impl RequestStats {
    pub fn record_call(&mut self, route: &str) {
        *self.calls_by_route.entry(route.to_string()).or_default() += 1;
    }

    pub fn record_status(&mut self, status: u16) {
        *self.status_counts.entry(status).or_default() += 1;
    }

    pub fn record_accepted(&mut self, at: Instant) {
        self.accepted_at_ms
            .push(at.saturating_duration_since(self.started).as_millis() as u64);
    }

    pub fn record_rate_limited(&mut self) {
        self.rate_limited += 1;
    }

    pub fn record_unauthorized(&mut self) {
        self.unauthorized += 1;
    }

    pub fn record_fault(&mut self, fault: InjectedFault) {
        match fault {
            InjectedFault::TooManyRequests => self.injected_429 += 1,
            InjectedFault::ServerError => self.injected_5xx += 1,
            InjectedFault::Hang => self.injected_hangs += 1,
        }
    }

    pub fn record_inputs(&mut self, route: &str, count: usize) {
        let max = self
            .max_inputs_by_route
            .entry(route.to_string())
            .or_default();
        *max = (*max).max(count);
        *self
            .total_inputs_by_route
            .entry(route.to_string())
            .or_default() += count as u64;
    }

    /// Max number of accepted requests inside any window of `window` length.
    pub fn busiest_window(&self, window: Duration) -> usize {
        busiest_window(&self.accepted_at_ms, window.as_millis() as u64)
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            calls_by_route: self.calls_by_route.clone(),
            max_inputs_by_route: self.max_inputs_by_route.clone(),
            total_inputs_by_route: self.total_inputs_by_route.clone(),
            max_inputs_per_call: self
                .max_inputs_by_route
                .values()
                .copied()
                .max()
                .unwrap_or(0),
            status_counts: self.status_counts.clone(),
            total_requests: self.calls_by_route.values().sum(),
            accepted_requests: self.accepted_at_ms.len() as u64,
            rate_limited_429: self.rate_limited,
            injected_429: self.injected_429,
            injected_5xx: self.injected_5xx,
            injected_hangs: self.injected_hangs,
            unauthorized: self.unauthorized,
            busiest_10s_window: self.busiest_window(BUSIEST_WINDOW),
        }
    }
}

/// Two pointers over sorted timestamps: the largest count with `last - first < window`.
fn busiest_window(times_ms: &[u64], window_ms: u64) -> usize {
    let mut sorted = times_ms.to_vec();
    sorted.sort_unstable();
    let mut best = 0;
    let mut start = 0;
    for end in 0..sorted.len() {
        while sorted[end] - sorted[start] >= window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busiest_window_counts_requests_inside_any_window() {
        assert_eq!(busiest_window(&[], 10_000), 0);
        assert_eq!(busiest_window(&[0, 1, 2, 10_000, 10_001], 10_000), 3);
        assert_eq!(
            busiest_window(&[0, 5_000, 9_999, 10_000, 12_000], 10_000),
            4
        );
    }
}
