//! Request counters behind `GET /_stats`: one atomic per route template plus `other`.

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

impl Route {
    /// Classifies a request by method and matched route template (None when nothing matched).
    pub(crate) fn classify(method: &Method, template: Option<&str>) -> Self {
        let Some(template) = template else {
            return Route::Counted(OTHER);
        };
        if template == STATS_PATH || template == STATS_RESET_PATH {
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
