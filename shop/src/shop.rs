//! The public [`Shop`] handle: building the shop from its config, its router, runtime
//! latency changes, the counters, and serving it on a listener.

use std::future::Future;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::app::Inner;
use crate::config::{LatencyRange, ShopConfig};
use crate::routes;
use crate::stats::{ShopLatency, ShopStats};

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
        Self {
            inner: Arc::new(Inner::new(config)),
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
