//! Request counters behind `GET /_stats`: one atomic per route template plus `other`;
//! and the time the shop took to answer `/api/` requests (injected delay included), as an
//! HDR histogram behind `GET /_stats/latency`: the truth a load generator's latency is
//! checked against.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::Method;
use serde::{Deserialize, Serialize};

/// A snapshot of how many requests the shop answered, in total and per route.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShopStats {
    /// Every request answered (any status), except the `/_stats` endpoints themselves.
    pub served: u64,
    /// Per route template (`"GET /api/products/{id}/"`), unmatched requests under `"other"`.
    pub routes: BTreeMap<String, u64>,
}

/// What a request counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Counted(usize),
    /// `/_stats` endpoints: never counted.
    Control,
}

/// Counted route keys, by index; the last one is `other`.
const KEYS: [&str; 7] = [
    "POST /api/auth/login/",
    "GET /api/products/",
    "GET /api/products/{id}/",
    "POST /api/cart/items/",
    "POST /api/orders/",
    "POST /api/payments/confirm/",
    "other",
];
const OTHER: usize = KEYS.len() - 1;

pub(crate) const STATS_PATH: &str = "/_stats";
pub(crate) const STATS_RESET_PATH: &str = "/_stats/reset";
pub(crate) const LATENCY_PATH: &str = "/_stats/latency";

/// How long the shop took to answer its `/api/` requests, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShopLatency {
    /// Requests measured.
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Server-side answer times in microseconds (1 µs to 1 h, 3 significant digits).
#[derive(Debug)]
pub(crate) struct Latency(std::sync::Mutex<hdrhistogram::Histogram<u64>>);

impl Default for Latency {
    fn default() -> Self {
        let h = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .expect("static bounds are valid");
        Self(std::sync::Mutex::new(h))
    }
}

impl Latency {
    fn lock(&self) -> std::sync::MutexGuard<'_, hdrhistogram::Histogram<u64>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn record(&self, took: std::time::Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.lock().saturating_record(us.clamp(1, 3_600_000_000));
    }

    pub(crate) fn snapshot(&self) -> ShopLatency {
        let h = self.lock();
        let ms = |us: u64| us as f64 / 1000.0;
        ShopLatency {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }

    pub(crate) fn reset(&self) {
        self.lock().reset();
    }
}

impl Route {
    /// Classifies a request by method and matched route template (None when nothing matched).
    pub(crate) fn classify(method: &Method, template: Option<&str>) -> Self {
        let Some(template) = template else {
            return Route::Counted(OTHER);
        };
        if template == STATS_PATH || template == STATS_RESET_PATH || template == LATENCY_PATH {
            return Route::Control;
        }
        let index = match (method.as_str(), template) {
            ("POST", "/api/auth/login/") => 0,
            ("GET", "/api/products/") => 1,
            ("GET", "/api/products/{id}/") => 2,
            ("POST", "/api/cart/items/") => 3,
            ("POST", "/api/orders/") => 4,
            ("POST", "/api/payments/confirm/") => 5,
            _ => OTHER,
        };
        Route::Counted(index)
    }
}

/// Lock-free counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    counts: [AtomicU64; KEYS.len()],
}

impl Stats {
    pub(crate) fn record(&self, route: Route) {
        if let Route::Counted(index) = route {
            self.counts[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> ShopStats {
        let routes: BTreeMap<String, u64> = KEYS
            .iter()
            .zip(&self.counts)
            .map(|(key, count)| ((*key).to_owned(), count.load(Ordering::Relaxed)))
            .collect();
        ShopStats {
            served: routes.values().sum(),
            routes,
        }
    }

    pub(crate) fn reset(&self) {
        for count in &self.counts {
            count.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_and_counts() {
        let stats = Stats::default();
        stats.record(Route::classify(&Method::GET, Some("/api/products/{id}/")));
        stats.record(Route::classify(
            &Method::DELETE,
            Some("/api/products/{id}/"),
        ));
        stats.record(Route::classify(&Method::GET, None));
        stats.record(Route::classify(&Method::GET, Some(STATS_PATH)));
        let snap = stats.snapshot();
        assert_eq!(snap.served, 3);
        assert_eq!(snap.routes["GET /api/products/{id}/"], 1);
        assert_eq!(snap.routes["other"], 2);
        assert_eq!(snap.routes.len(), KEYS.len());
        stats.reset();
        assert_eq!(stats.snapshot().served, 0);
    }
}
