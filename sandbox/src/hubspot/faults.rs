//! Seeded fault injection. A faulted request answers before its handler runs, so its writes
//! are never applied; `apply_then_fail` is the one exception and is named as such.

use axum::http::StatusCode;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::errors::correlation_id;

/// Fractions (0.0–1.0) of API requests that get each fault. They are tried in the order of the
/// fields, from one uniform draw, so their sum should stay ≤ 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultPlan {
    /// 429 with the TEN_SECONDLY_ROLLING body.
    pub rate_429: f64,
    pub rate_500: f64,
    pub rate_502: f64,
    pub rate_503: f64,
    /// 500 whose body says `"category":"RATE_LIMITS"` (a Ruby client reports these, §4.3).
    pub rate_500_rate_limits: f64,
    /// Never answers within a client's timeout (sleeps `hang_ms` or until shutdown).
    pub rate_hang: f64,
    /// The handler runs (writes applied), then the client gets a 500 anyway.
    pub rate_apply_then_fail: f64,
    /// Fixed delay added to every API request.
    pub latency_ms: u64,
    /// How long a hang lasts; 0 means 60 s.
    pub hang_ms: u64,
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultDecision {
    Proceed,
    TooManyRequests,
    ServerError(StatusCode),
    ServerErrorRateLimits,
    Hang,
    ApplyThenFail,
}

#[derive(Debug)]
pub struct FaultEngine {
    plan: FaultPlan,
    rng: SmallRng,
}

impl FaultEngine {
    pub fn new(plan: FaultPlan, seed: u64) -> Self {
        Self {
            plan,
            // Its own stream, so changing the shuffle does not move the faults.
            rng: SmallRng::seed_from_u64(seed ^ 0x5eed_fa17),
        }
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    pub fn set_plan(&mut self, plan: FaultPlan) {
        self.plan = plan;
    }

    pub fn reseed(&mut self, seed: u64) {
        self.rng = SmallRng::seed_from_u64(seed ^ 0x5eed_fa17);
    }

    pub fn decide(&mut self) -> FaultDecision {
        let p = &self.plan;
        let buckets = [
            (p.rate_429, FaultDecision::TooManyRequests),
            (
                p.rate_500,
                FaultDecision::ServerError(StatusCode::INTERNAL_SERVER_ERROR),
            ),
            (
                p.rate_502,
                FaultDecision::ServerError(StatusCode::BAD_GATEWAY),
            ),
            (
                p.rate_503,
                FaultDecision::ServerError(StatusCode::SERVICE_UNAVAILABLE),
            ),
            (p.rate_500_rate_limits, FaultDecision::ServerErrorRateLimits),
            (p.rate_hang, FaultDecision::Hang),
            (p.rate_apply_then_fail, FaultDecision::ApplyThenFail),
        ];
        if buckets.iter().all(|(rate, _)| *rate <= 0.0) {
            return FaultDecision::Proceed;
        }
        let draw: f64 = self.rng.random();
        let mut upper = 0.0;
        for (rate, decision) in buckets {
            upper += rate.max(0.0);
            if draw < upper {
                return decision;
            }
        }
        FaultDecision::Proceed
    }
}

/// HubSpot-like 5xx bodies.
pub fn server_error_body(status: StatusCode) -> Value {
    let message = match status {
        StatusCode::BAD_GATEWAY => "Bad Gateway",
        StatusCode::SERVICE_UNAVAILABLE => "Service Unavailable",
        _ => "internal error",
    };
    json!({
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": "INTERNAL_ERROR",
    })
}

pub fn server_error_rate_limits_body() -> Value {
    json!({
        "status": "error",
        "message": "You have reached your secondly limit.",
        "correlationId": correlation_id(),
        "category": "RATE_LIMITS",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_one_always_faults_and_zero_never() {
        let mut engine = FaultEngine::new(
            FaultPlan {
                rate_503: 1.0,
                ..FaultPlan::default()
            },
            7,
        );
        for _ in 0..100 {
            assert_eq!(
                engine.decide(),
                FaultDecision::ServerError(StatusCode::SERVICE_UNAVAILABLE)
            );
        }
        engine.set_plan(FaultPlan::default());
        assert_eq!(engine.decide(), FaultDecision::Proceed);
    }

    #[test]
    fn same_seed_same_faults() {
        let plan = FaultPlan {
            rate_429: 0.3,
            rate_500: 0.2,
            ..FaultPlan::default()
        };
        let mut a = FaultEngine::new(plan.clone(), 42);
        let mut b = FaultEngine::new(plan, 42);
        let xs: Vec<_> = (0..50).map(|_| a.decide()).collect();
        let ys: Vec<_> = (0..50).map(|_| b.decide()).collect();
        assert_eq!(xs, ys);
    }
}
