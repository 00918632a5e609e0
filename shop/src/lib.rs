//! The built-in demo shop that load tests run against: the seed project's Django shop API
//! (login, products, cart, orders, payment confirmation) reproduced with axum, with real
//! state, bounded memory, request counters at `/_stats` and optional injected latency and
//! errors.

mod catalog;
mod config;
mod error;
mod json;
mod ring;
mod routes;
mod state;
mod stats;

use std::future::Future;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

pub use config::{LatencyRange, ShopConfig};
pub use error::ShopError;
pub use stats::{ShopLatency, ShopStats};

/// Number of users, `load_test_user_0` to `load_test_user_{USER_COUNT - 1}`.
pub const USER_COUNT: usize = 1000;
/// Password of every user.
pub const PASSWORD: &str = "testpass123";
/// Number of products, ids `1..=PRODUCT_COUNT`.
pub const PRODUCT_COUNT: u64 = 100;

/// Everything the handlers share.
struct Inner {
    config: ShopConfig,
    latency: config::LatencyCell,
    catalog: catalog::Catalog,
    tokens: state::Tokens,
    carts: state::Carts,
    orders: state::Orders,
    stats: stats::Stats,
    answer_times: stats::Latency,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("config", &self.config)
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}

/// The shop: state plus router. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct Shop {
    inner: Arc<Inner>,
}

impl Shop {
    /// A fresh shop. An error rate outside `0.0..=1.0` is clamped (check with
    /// [`ShopConfig::validate`] first to report it instead).
    pub fn new(mut config: ShopConfig) -> Self {
        config.error_rate = if config.error_rate.is_nan() {
            0.0
        } else {
            config.error_rate.clamp(0.0, 1.0)
        };
        let latency = config::LatencyCell::default();
        latency.set(config.latency);
        Self {
            inner: Arc::new(Inner {
                latency,
                config,
                catalog: catalog::Catalog::new(),
                tokens: state::Tokens::new(),
                carts: state::Carts::new(),
                orders: state::Orders::new(),
                stats: stats::Stats::default(),
                answer_times: stats::Latency::default(),
            }),
        }
    }

    /// The shop's routes, ready for `axum::serve` or nesting.
    pub fn router(&self) -> axum::Router {
        routes::router(self.inner.clone())
    }

    /// Changes the injected latency of `/api/` requests from now on.
    pub fn set_latency(&self, latency: Option<LatencyRange>) {
        self.inner.latency.set(latency);
    }

    /// How long the shop took to answer `/api/` requests, as `GET /_stats/latency`.
    pub fn latency(&self) -> ShopLatency {
        self.inner.answer_times.snapshot()
    }

    /// The same counters as `GET /_stats`.
    pub fn stats(&self) -> ShopStats {
        self.inner.stats.snapshot()
    }

    /// Serves HTTP/1.1 (with keep-alive) on `listener` until `shutdown` resolves, then stops
    /// gracefully.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Ok(addr) = listener.local_addr() {
            tracing::debug!(%addr, "shop listening");
        }
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::trace!(%err, "could not set TCP_NODELAY");
            }
        });
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}
