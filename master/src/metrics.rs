//! Prometheus metrics (`--metrics-listen ADDR`): the master's merged numbers
//! at `/metrics` in the text exposition format: requests and failures by
//! endpoint, response time quantiles as a summary, users and workers.

use std::fmt::Write;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use stampede_common::stats::{PERCENTILES, StatsRow};
use tokio::net::TcpListener;

use crate::cluster::{ClusterView, MasterHandle, WorkerState};
use crate::tasks::Tasks;

/// The `/metrics` route on `master`, for this server or another router.
pub fn router(master: MasterHandle) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(master)
}

/// Serves `/metrics` on `listener` until `tasks` shut down.
pub fn serve(listener: TcpListener, master: MasterHandle, tasks: &Tasks) {
    let shutdown = tasks.token();
    tasks.spawn(async move {
        let served = axum::serve(listener, router(master))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the metrics server failed");
        }
    });
}

async fn metrics(State(master): State<MasterHandle>) -> impl IntoResponse {
    let body = match master.view().await {
        Ok(view) => render(&view),
        Err(e) => format!("# the master is not available: {e}\n"),
    };
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(r: &StatsRow) -> String {
    format!(
        "method=\"{}\",name=\"{}\"",
        escape(&r.method),
        escape(&r.name)
    )
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition text for one view of the cluster.
pub fn render(view: &ClusterView) -> String {
    let mut out = String::new();
    let rows: &[StatsRow] = view
        .run
        .as_ref()
        .map_or(&[], |r| r.snapshot.rows.as_slice());
    header(
        &mut out,
        "stampede_requests_total",
        "counter",
        "Requests sent in the current run, by endpoint.",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "stampede_requests_total{{{}}} {}",
            labels(r),
            r.requests
        );
    }
    header(
        &mut out,
        "stampede_failures_total",
        "counter",
        "Failed requests in the current run, by endpoint.",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "stampede_failures_total{{{}}} {}",
            labels(r),
            r.failures
        );
    }
    header(
        &mut out,
        "stampede_response_time_seconds",
        "summary",
        "Response times in the current run, by endpoint (exact HDR quantiles).",
    );
    for r in rows {
        let l = labels(r);
        for (q, v) in PERCENTILES.iter().zip(&r.percentiles_ms) {
            let _ = writeln!(
                out,
                "stampede_response_time_seconds{{{l},quantile=\"{q}\"}} {}",
                v / 1000.0
            );
        }
        let _ = writeln!(
            out,
            "stampede_response_time_seconds_sum{{{l}}} {}",
            r.avg_ms * r.requests as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "stampede_response_time_seconds_count{{{l}}} {}",
            r.requests
        );
    }
    header(
        &mut out,
        "stampede_current_rps",
        "gauge",
        "Requests per second over the last 10 seconds, all endpoints.",
    );
    let _ = writeln!(
        out,
        "stampede_current_rps {}",
        view.run
            .as_ref()
            .map_or(0.0, |r| r.snapshot.total.current_rps)
    );
    header(
        &mut out,
        "stampede_users",
        "gauge",
        "Virtual users running now, cluster-wide.",
    );
    let _ = writeln!(
        out,
        "stampede_users {}",
        view.workers.iter().map(|w| w.users).sum::<u64>()
    );
    header(
        &mut out,
        "stampede_target_users",
        "gauge",
        "Users the current run asks for.",
    );
    let _ = writeln!(
        out,
        "stampede_target_users {}",
        view.run.as_ref().map_or(0, |r| r.users)
    );
    let snap = view.run.as_ref().map(|r| &r.snapshot);
    for (name, help, v) in [
        (
            "stampede_iterations_total",
            "Iterations completed in the current run.",
            snap.map_or(0, |s| s.iterations),
        ),
        (
            "stampede_dropped_iterations_total",
            "Open model: iterations due in the current run that found no free user.",
            snap.map_or(0, |s| s.dropped_iterations),
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    header(
        &mut out,
        "stampede_workers",
        "gauge",
        "Workers known to the master, by state.",
    );
    for (state, label) in [
        (WorkerState::Ready, "ready"),
        (WorkerState::Running, "running"),
        (WorkerState::Missing, "missing"),
    ] {
        let n = view.workers.iter().filter(|w| w.state == state).count();
        let _ = writeln!(out, "stampede_workers{{state=\"{label}\"}} {n}");
    }
    out
}
