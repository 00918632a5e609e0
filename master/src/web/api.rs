//! The JSON API behind the page, for scripts too: thin handlers that read the
//! request ([`super::input`]), call [`WebApp`] and answer JSON (or the CSV and
//! report files). Errors are `{"error": "..."}` with 400, 404, 409 or 503.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stampede_common::duration::format_duration;

use super::control::WebApp;
use super::input::WebError;
use super::{input, views};
use crate::MasterError;
use crate::report::{StopReason, csv, html, json::JsonReport};

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebError::BadRequest(_) | WebError::Master(MasterError::Plan(_)) => {
                StatusCode::BAD_REQUEST
            }
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Conflict(_)
            | WebError::Master(
                MasterError::Busy
                | MasterError::Stopping
                | MasterError::NotRunning
                | MasterError::Shaped,
            ) => StatusCode::CONFLICT,
            WebError::Master(MasterError::Gone) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Master(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        error(status, &self.to_string())
    }
}

/// An error answer: `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Any other path.
pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

fn body(headers: &HeaderMap, bytes: &[u8]) -> Result<input::Fields, WebError> {
    let ct = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    input::parse(ct, bytes)
}

/// `GET /api/scenario`: the scenario's classes and the start form's defaults.
pub async fn scenario(State(app): State<WebApp>) -> Json<Value> {
    let t = app.template();
    let d = app.defaults();
    let classes: Vec<Value> = t
        .scenario
        .classes
        .iter()
        .map(|c| json!({ "name": c.name, "weight": c.weight, "fixed_count": c.fixed_count }))
        .collect();
    Json(json!({
        "name": t.scenario.name,
        "description": t.scenario.description,
        "classes": classes,
        "thresholds": t.thresholds.iter().map(|t| t.source.clone()).collect::<Vec<_>>(),
        "defaults": {
            "users": d.users,
            "spawn_rate": d.spawn_rate,
            "host": d.host,
            "run_time": d.run_time.map(format_duration),
            "classes": d.classes,
        },
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// `GET /api/stats`: the live view.
pub async fn stats(State(app): State<WebApp>) -> Result<Json<views::StatsView>, WebError> {
    let view = app.master().view().await?;
    Ok(Json(views::stats(&app, &view)))
}

/// `GET /api/workers`.
pub async fn workers(State(app): State<WebApp>) -> Result<Json<Value>, WebError> {
    let view = app.master().view().await?;
    Ok(Json(json!({ "workers": views::workers(&view) })))
}

/// `GET /api/history?since=UNIX_MS`: chart points of the run shown.
pub async fn history(
    State(app): State<WebApp>,
    RawQuery(query): RawQuery,
) -> Result<Json<views::History>, WebError> {
    let mut since = 0;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k == "since" {
            since = v.trim().parse::<i64>().map_err(|_| {
                WebError::BadRequest(format!("invalid since `{v}`: expected unix milliseconds"))
            })?;
        }
    }
    if let Some((id, points)) = app.master().history(since).await? {
        return Ok(Json(views::history(Some(id), &points, since)));
    }
    Ok(Json(match app.last() {
        Some(done) => views::history(Some(done.run_id), done.report.stats.history(), since),
        None => views::history(None, &[], since),
    }))
}

/// `POST /api/swarm`: starts a run.
pub async fn swarm(
    State(app): State<WebApp>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, WebError> {
    let req = input::start_request(&body(&headers, &bytes)?, app.defaults())?;
    let id = app.start(req.clone()).await?;
    let host = app
        .master()
        .view()
        .await?
        .run
        .map(|r| r.host)
        .unwrap_or_default();
    Ok(Json(json!({
        "run_id": id,
        "users": req.users,
        "spawn_rate": req.spawn_rate,
        "host": host,
        "run_time_s": req.run_time.map(|d| d.as_secs_f64()),
        "classes": req.classes,
    })))
}

/// `POST /api/users`: changes the user count (and spawn rate) of the run.
pub async fn users(
    State(app): State<WebApp>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, WebError> {
    let (users, rate) = input::users_request(&body(&headers, &bytes)?)?;
    let (users, rate) = app.set_users(users, rate).await?;
    Ok(Json(json!({ "users": users, "spawn_rate": rate })))
}

/// `POST /api/stop`: stops the run and answers its totals.
pub async fn stop(State(app): State<WebApp>) -> Result<Json<Value>, WebError> {
    let report = app.stop(StopReason::Interrupted).await?;
    let t = &report.snapshot.total;
    Ok(Json(json!({
        "requests": t.requests,
        "failures": t.failures,
        "passed": report.passed(),
    })))
}

/// `POST /api/reset`: forgets the run's statistics so far.
pub async fn reset(State(app): State<WebApp>) -> Result<Json<Value>, WebError> {
    app.reset().await?;
    Ok(Json(json!({ "reset": true })))
}

fn file(content_type: &'static str, disposition: String, body: String) -> Response {
    (
        [
            (CONTENT_TYPE, content_type.to_owned()),
            (CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/report.json`: the JSON report of the run so far, or the last one.
pub async fn report_json(State(app): State<WebApp>) -> Result<Response, WebError> {
    let report = app.report().await?;
    Ok(file(
        "application/json",
        "attachment; filename=\"stampede_report.json\"".into(),
        JsonReport::new(&report).to_string_pretty(),
    ))
}

/// `GET /api/report.html`: the HTML report, shown in the browser.
pub async fn report_html(State(app): State<WebApp>) -> Result<Response, WebError> {
    let report = app.report().await?;
    Ok(file(
        "text/html; charset=utf-8",
        "inline; filename=\"stampede_report.html\"".into(),
        html::render_html(&JsonReport::new(&report)),
    ))
}

/// `GET /api/csv/{stats|history|failures|exceptions}`: Locust's CSV files;
/// `?full_history=true` adds per-endpoint rows to the history.
pub async fn csv(
    State(app): State<WebApp>,
    Path(kind): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let full = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "full_history" && matches!(v.as_ref(), "1" | "true" | "yes" | ""));
    let name = match kind.as_str() {
        "stats" => "stats",
        "history" => "stats_history",
        "failures" => "failures",
        "exceptions" => "exceptions",
        other => {
            return Err(WebError::NotFound(format!(
                "unknown csv `{other}`: expected stats, history, failures or exceptions"
            )));
        }
    };
    let report = app.report().await?;
    let text = match name {
        "stats" => csv::stats_csv(&report),
        "stats_history" => csv::history_csv(&report, full),
        "failures" => csv::failures_csv(&report),
        _ => csv::exceptions_csv(&report),
    };
    Ok(file(
        "text/csv; charset=utf-8",
        format!("attachment; filename=\"stampede_{name}.csv\""),
        text,
    ))
}
