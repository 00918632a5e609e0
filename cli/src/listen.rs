//! The listeners a command binds before any load is sent: the master's gRPC
//! address, the web UI, Prometheus metrics, and the probe endpoints
//! (`--health-listen`: `/healthz` answers 200 while the process runs,
//! `/readyz` 200 when it can do its job and 503 otherwise).

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use stampede_master::tasks::Tasks;
use tokio::net::TcpListener;

use crate::args::{OutputArgs, WebArgs};
use crate::exit::{Failure, cannot_run, io};

/// Binds `addr`; `what` names it in the error (a flag, usually).
///
/// # Errors
///
/// The address cannot be bound (exit 3).
pub async fn bind(what: &str, addr: &str) -> Result<TcpListener, Failure> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| cannot_run(io(what, &e)))
}

/// Binds `--metrics-listen`, if given.
///
/// # Errors
///
/// The address cannot be bound.
pub async fn metrics(out: &OutputArgs) -> Result<Option<TcpListener>, Failure> {
    let Some(addr) = &out.metrics_listen else {
        return Ok(None);
    };
    let l = bind(&format!("--metrics-listen {addr}"), addr).await?;
    if let Ok(a) = l.local_addr() {
        tracing::info!(addr = %a, "prometheus metrics at /metrics");
    }
    Ok(Some(l))
}

/// Binds `--web-host` (or `default_host`) and `--web-port`.
///
/// # Errors
///
/// The address cannot be bound.
pub async fn web(web: &WebArgs, default_host: &str) -> Result<TcpListener, Failure> {
    let host = match web.web_host.as_deref().map(str::trim) {
        None => default_host,
        // Locust's `--web-host ""`: every interface.
        Some("") => "0.0.0.0",
        Some(h) => h.trim_matches(['[', ']']),
    };
    TcpListener::bind((host, web.web_port))
        .await
        .map_err(|e| cannot_run(io(&format!("cannot listen on {host}:{}", web.web_port), &e)))
}

/// Binds `addr` and serves the probes on `tasks`.
///
/// # Errors
///
/// The address cannot be bound.
pub async fn health(
    addr: &str,
    ready: impl Fn() -> bool + Clone + Send + Sync + 'static,
    tasks: &Tasks,
) -> Result<(), Failure> {
    let listener = bind(&format!("--health-listen {addr}"), addr).await?;
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
    let shutdown = tasks.token();
    tasks.spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
    });
    Ok(())
}
