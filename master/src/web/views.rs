//! What the API shows, as JSON: the live stats view (state, run, table,
//! failures, thresholds, workers), chart points and workers, built from the
//! master's [`ClusterView`] and the UI's run, or from the last finished run.

use serde::Serialize;
use stampede_common::stats::{HistoryPoint, Snapshot, StatsRow};
use stampede_common::thresholds::{Verdict, evaluate};

use super::control::WebApp;
use crate::cluster::{ClusterView, WorkerInfo, WorkerState};
use crate::report::json::{Endpoint, Exception, Failure, rfc3339_ms};

/// Rows and failures shown at most (as Locust's UI), besides the Aggregated row.
const MAX_ROWS: usize = 500;

/// One row of the stats table.
#[derive(Debug, Serialize)]
pub struct Row {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// Requests per second over the last ten seconds.
    current_rps: f64,
}

impl From<&StatsRow> for Row {
    fn from(r: &StatsRow) -> Self {
        Self {
            endpoint: Endpoint::from(r),
            current_rps: r.current_rps,
        }
    }
}

/// A worker as the UI lists it.
#[derive(Debug, Serialize)]
pub struct WorkerRow {
    id: String,
    hostname: String,
    cores: u32,
    /// Percent of one core, from the last heartbeat.
    cpu_percent: f32,
    state: WorkerState,
    users: u64,
    /// Seconds since its last message.
    last_heard_s: f64,
}

impl From<&WorkerInfo> for WorkerRow {
    fn from(w: &WorkerInfo) -> Self {
        Self {
            id: w.id.clone(),
            hostname: w.hostname.clone(),
            cores: w.cores,
            cpu_percent: w.cpu_percent,
            state: w.state.clone(),
            users: w.users,
            last_heard_s: w.last_heard.as_secs_f64(),
        }
    }
}

/// The run shown: the one going, or the last one.
#[derive(Debug, Serialize)]
pub struct RunInfo {
    id: u64,
    host: String,
    /// Target users.
    users: u64,
    spawn_rate: f64,
    classes: Vec<String>,
    started: String,
    started_ms: i64,
    run_time_s: Option<f64>,
    remaining_s: Option<f64>,
    /// Seconds the statistics cover (since the start or the last reset).
    elapsed_s: f64,
    /// Why it ended (a finished run only).
    stop_reason: Option<&'static str>,
    /// How the load is shaped: `users`, `stages` or `arrival_rate` (the
    /// open model, where `users` is its max_users).
    model: &'static str,
}

/// `GET /api/stats`: everything the page shows at once.
#[derive(Debug, Serialize)]
pub struct StatsView {
    /// `ready`, `spawning`, `running`, `stopping` or `stopped`.
    state: &'static str,
    run: Option<RunInfo>,
    /// Users running now, summed over the workers.
    user_count: u64,
    /// Workers connected now.
    worker_count: usize,
    stats: Vec<Row>,
    total: Option<Row>,
    /// More rows or failures than shown.
    truncated: bool,
    failures: Vec<Failure>,
    exceptions: Vec<Exception>,
    thresholds: Vec<Verdict>,
    workers: Vec<WorkerRow>,
    /// Iterations completed.
    iterations: u64,
    /// Open model: iterations dropped (no free user).
    dropped_iterations: u64,
}

/// One chart point (a second of the run).
#[derive(Debug, Serialize)]
pub struct Point {
    /// Unix milliseconds.
    t: i64,
    users: u64,
    target_users: u64,
    /// Open model: the target iterations per second.
    target_rate: Option<f64>,
    iterations_per_s: f64,
    dropped_per_s: f64,
    rps: f64,
    failures_per_s: f64,
    avg_ms: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
}

impl From<&HistoryPoint> for Point {
    fn from(p: &HistoryPoint) -> Self {
        let at = |i: usize| p.percentiles_ms.get(i).copied().unwrap_or(0.0);
        Self {
            t: p.unix_ms,
            users: p.users,
            target_users: p.target_users,
            target_rate: p.target_rate,
            iterations_per_s: p.iterations_per_s,
            dropped_per_s: p.dropped_per_s,
            rps: p.rps,
            failures_per_s: p.fail_per_s,
            avg_ms: p.avg_ms,
            // Indices into PERCENTILES: 0.50, .., 0.95 (5), .., 0.99 (7).
            p50_ms: at(0),
            p95_ms: at(5),
            p99_ms: at(7),
        }
    }
}

/// `GET /api/history`: chart points after `since`.
#[derive(Debug, Serialize)]
pub struct History {
    run_id: Option<u64>,
    points: Vec<Point>,
}

fn failures(s: &Snapshot) -> Vec<Failure> {
    s.failures
        .iter()
        .take(MAX_ROWS)
        .map(|(k, e)| Failure {
            method: k.key.method.clone(),
            name: k.key.name.clone(),
            error: k.error.clone(),
            occurrences: e.occurrences,
            first_seen: rfc3339_ms(stampede_common::stats::unix_ms(e.first_seen)),
            last_seen: rfc3339_ms(stampede_common::stats::unix_ms(e.last_seen)),
        })
        .collect()
}

/// The live view: the master's numbers during a run, the last report's after.
pub(crate) fn stats(app: &WebApp, view: &ClusterView) -> StatsView {
    let user_count = view.workers.iter().map(|w| w.users).sum();
    let last = app.last();
    let (run, snapshot) = match (&view.run, &last) {
        (Some(r), _) => {
            let started_ms = stampede_common::stats::unix_ms(r.started);
            let run = RunInfo {
                id: r.id,
                host: r.host.clone(),
                users: r.users,
                spawn_rate: r.spawn_rate,
                classes: r.classes.clone(),
                started: rfc3339_ms(started_ms),
                started_ms,
                run_time_s: r.length.map(|d| d.as_secs_f64()),
                remaining_s: r.remaining().map(|d| d.as_secs_f64()),
                elapsed_s: r.snapshot.elapsed_s,
                stop_reason: None,
                model: r.model,
            };
            (Some(run), Some(&r.snapshot))
        }
        (None, Some(done)) => {
            let r = &done.report;
            let started_ms = stampede_common::stats::unix_ms(r.started);
            let run = RunInfo {
                id: done.run_id,
                host: r.host.clone(),
                users: r.users,
                spawn_rate: r.spawn_rate,
                classes: r.classes.clone(),
                started: rfc3339_ms(started_ms),
                started_ms,
                run_time_s: None,
                remaining_s: None,
                elapsed_s: r.snapshot.elapsed_s,
                stop_reason: Some(r.reason.as_str()),
                model: r.load.as_str(),
            };
            (Some(run), Some(&r.snapshot))
        }
        (None, None) => (None, None),
    };
    let state = match &view.run {
        None if last.is_some() => "stopped",
        None => "ready",
        Some(r) if r.stopping => "stopping",
        Some(r) if r.model != "arrival_rate" && user_count < r.users => "spawning",
        Some(_) => "running",
    };
    let thresholds = snapshot
        .map(|s| evaluate(&app.template().thresholds, s))
        .unwrap_or_default();
    let (stats, total, truncated, failures, exceptions) = match snapshot {
        Some(s) => (
            s.rows.iter().take(MAX_ROWS).map(Row::from).collect(),
            Some(Row::from(&s.total)),
            s.rows.len() > MAX_ROWS || s.failures.len() > MAX_ROWS,
            failures(s),
            s.exceptions
                .iter()
                .take(MAX_ROWS)
                .map(|(m, n)| Exception {
                    message: m.clone(),
                    count: *n,
                })
                .collect(),
        ),
        None => (Vec::new(), None, false, Vec::new(), Vec::new()),
    };
    let (iterations, dropped_iterations) =
        snapshot.map_or((0, 0), |s| (s.iterations, s.dropped_iterations));
    StatsView {
        iterations,
        dropped_iterations,
        state,
        run,
        user_count,
        worker_count: app.master().connected(),
        stats,
        total,
        truncated,
        failures,
        exceptions,
        thresholds,
        workers: workers(view),
    }
}

/// The workers table.
pub(crate) fn workers(view: &ClusterView) -> Vec<WorkerRow> {
    view.workers.iter().map(WorkerRow::from).collect()
}

/// Chart points after `since` (unix ms).
pub(crate) fn history(run_id: Option<u64>, points: &[HistoryPoint], since: i64) -> History {
    let from = points.partition_point(|p| p.unix_ms <= since);
    History {
        run_id,
        points: points[from..].iter().map(Point::from).collect(),
    }
}
