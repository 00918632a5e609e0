//! The state every handler shares ([`Inner`], behind the [`AppState`] handle): configuration,
//! the catalog, tokens, carts, orders and the counters.

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::config::{LatencyCell, ShopConfig};
use crate::state::{Carts, Orders, Tokens};
use crate::stats::{Latency, Stats};

/// The handle axum hands to every handler and middleware.
pub(crate) type AppState = Arc<Inner>;

/// Everything the handlers share.
pub(crate) struct Inner {
    pub(crate) config: ShopConfig,
    pub(crate) latency: LatencyCell,
    /// `--concurrency`: the places of `/api/` requests being served.
    pub(crate) limit: Option<tokio::sync::Semaphore>,
    pub(crate) catalog: Catalog,
    pub(crate) tokens: Tokens,
    pub(crate) carts: Carts,
    pub(crate) orders: Orders,
    pub(crate) stats: Stats,
    pub(crate) answer_times: Latency,
}

impl Inner {
    /// Fresh state for `config`, taken as is (the caller has already clamped it).
    pub(crate) fn new(config: ShopConfig) -> Self {
        let latency = LatencyCell::default();
        latency.set(config.latency);
        Self {
            latency,
            limit: config.concurrency.map(tokio::sync::Semaphore::new),
            config,
            catalog: Catalog::new(),
            tokens: Tokens::new(),
            carts: Carts::new(),
            orders: Orders::new(),
            stats: Stats::default(),
            answer_times: Latency::default(),
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("config", &self.config)
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}
