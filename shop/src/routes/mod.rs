//! The HTTP surface: route table, the front middleware (stats, the concurrency limit, injected latency and errors),
//! fallbacks and the `/_stats` endpoints.

mod auth;
mod cart_orders;
mod payments;
mod products;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::AppState;
use crate::json::ApiError;
use crate::stats::{LATENCY_PATH, Route, STATS_PATH, STATS_RESET_PATH, ShopLatency, ShopStats};

/// Builds the full router over shared state.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/auth/login/", post(auth::login))
        .route("/api/products/", get(products::list))
        .route("/api/products/{id}/", get(products::detail))
        .route("/api/cart/items/", post(cart_orders::add_item))
        .route("/api/orders/", post(cart_orders::create_order))
        .route("/api/payments/confirm/", post(payments::confirm))
        .route(STATS_PATH, get(stats))
        .route(STATS_RESET_PATH, post(reset_stats))
        .route(LATENCY_PATH, get(latency))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), front))
        .with_state(state)
}

/// Counts every answered request and applies the configured latency and error injection to
/// `/api/` requests.
async fn front(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = Route::classify(
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    if route == Route::Control {
        return next.run(req).await;
    }
    let response = if req.uri().path().starts_with("/api/") {
        let started = std::time::Instant::now();
        // Held until the answer is ready; tokio's semaphore is fair, so the
        // requests that wait are served in their order of arrival.
        let _place = match &state.limit {
            Some(limit) => Some(limit.acquire().await.expect("never closed")),
            None => None,
        };
        if let Some(latency) = state.latency.get() {
            tokio::time::sleep(latency.sample()).await;
        }
        let path = req.uri().path();
        if let Some((_, slow)) = state
            .config
            .slow
            .iter()
            .find(|(p, _)| path.starts_with(p.as_str()))
        {
            tokio::time::sleep(slow.sample()).await;
        }
        let rate = state.config.error_rate;
        let response = if rate > 0.0 && fastrand::f64() < rate {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "injected error").into_response()
        } else {
            next.run(req).await
        };
        state.answer_times.record(started.elapsed());
        response
    } else {
        next.run(req).await
    };
    state.stats.record(route);
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} not allowed"),
    )
}

async fn stats(State(state): State<AppState>) -> axum::Json<ShopStats> {
    axum::Json(state.stats.snapshot())
}

async fn latency(State(state): State<AppState>) -> axum::Json<ShopLatency> {
    axum::Json(state.answer_times.snapshot())
}

async fn reset_stats(State(state): State<AppState>) -> StatusCode {
    state.stats.reset();
    state.answer_times.reset();
    StatusCode::NO_CONTENT
}
