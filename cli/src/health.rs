//! Probe endpoints for orchestrators (`--health-listen`): `/healthz` answers
//! 200 while the process runs; `/readyz` answers 200 when it can do its job
//! (a worker: attached to its master) and 503 otherwise.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::commands::{EXIT_CANNOT_RUN, Failure};

/// Binds `addr` and serves the probes until `shutdown`.
pub(crate) async fn serve(
    addr: &str,
    ready: impl Fn() -> bool + Clone + Send + Sync + 'static,
    shutdown: CancellationToken,
) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure {
            code: EXIT_CANNOT_RUN,
            message: format!("--health-listen {addr}: {}", e.to_string().to_lowercase()),
        })?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready() {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                    }
                }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
    });
    Ok(())
}
