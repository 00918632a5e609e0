//! The master's web UI (Locust's port 8089): one axum server with the page
//! (HTML, CSS and JavaScript in `assets/`, embedded in the binary, no CDN), the JSON API
//! behind it ([`api`]), `/metrics` and `/healthz`, guarded by HTTP Basic or a
//! bearer token ([`auth`]). [`WebApp`] ([`control`]) is the UI's thin client
//! of the master, which owns and drives the runs.

pub mod api;
pub mod auth;
mod control;
mod input;
mod views;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use auth::{Auth, AuthError};
pub use control::WebApp;
pub use input::WebError;

pub use crate::run::{MAX_USERS, RunTemplate, StartRequest};
use crate::tasks::Tasks;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const CHARTS_JS: &str = include_str!("assets/charts.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
}

/// Every route of the UI server, behind `auth` (except `/healthz`).
pub fn router(app: WebApp, auth: Auth) -> Router {
    let metrics = crate::metrics::router(app.master().clone());
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/charts.js",
            get(|| async { asset("text/javascript; charset=utf-8", CHARTS_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route("/api/scenario", get(api::scenario))
        .route("/api/stats", get(api::stats))
        .route("/api/history", get(api::history))
        .route("/api/workers", get(api::workers))
        .route("/api/swarm", post(api::swarm))
        .route("/api/users", post(api::users))
        .route("/api/stop", post(api::stop))
        .route("/api/reset", post(api::reset))
        .route("/api/report.json", get(api::report_json))
        .route("/api/report.html", get(api::report_html))
        .route("/api/csv/{kind}", get(api::csv))
        .fallback(api::not_found)
        .with_state(app)
        .merge(metrics)
        .layer(axum::middleware::from_fn_with_state(auth, auth::guard))
        .route("/healthz", get(|| async { "ok\n" }))
}

/// Serves the UI on `listener` until `shutdown` (a token of `tasks`).
pub fn serve(
    listener: TcpListener,
    app: WebApp,
    auth: Auth,
    tasks: &Tasks,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let auth = match listener.local_addr() {
        Ok(addr) if addr.ip().is_loopback() => auth.loopback_hosts_only(),
        _ => auth,
    };
    tasks.spawn(async move {
        let served = axum::serve(listener, router(app, auth))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the web ui server failed");
        }
    });
}
