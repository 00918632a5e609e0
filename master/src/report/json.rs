//! The JSON report (`--json FILE`): everything about a run in one stable
//! document, schema `stampede-report/2` (documented in the README and pinned
//! by a test). Times are in milliseconds, timestamps RFC 3339 in UTC. `/2`
//! adds each endpoint's exact merged histogram (`histogram`: HdrHistogram V2
//! with DEFLATE, base64), what `stampede compare` reads; readers of `/1`
//! find every key they knew.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use stampede_common::stats::{
    Cumulative, EndpointStats, HistoryPoint, PERCENTILES, StatsKey, StatsRow,
};
use stampede_common::thresholds::Verdict;

use super::{LoadModel, RunReport};

/// The schema identifier; bump it on any incompatible change.
pub const SCHEMA: &str = "stampede-report/2";

/// Response time percentiles in ms, as Locust reports them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p66: f64,
    pub p75: f64,
    pub p80: f64,
    pub p90: f64,
    pub p95: f64,
    pub p98: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    #[serde(rename = "p99.99")]
    pub p99_99: f64,
    pub p100: f64,
}

impl Percentiles {
    /// From values ordered as [`PERCENTILES`].
    pub fn from_slice(v: &[f64]) -> Self {
        let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
        debug_assert_eq!(v.len(), PERCENTILES.len());
        Self {
            p50: at(0),
            p66: at(1),
            p75: at(2),
            p80: at(3),
            p90: at(4),
            p95: at(5),
            p98: at(6),
            p99: at(7),
            p99_9: at(8),
            p99_99: at(9),
            p100: at(10),
        }
    }
}

/// One endpoint (or the aggregate) over the whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub fail_ratio: f64,
    pub rps: f64,
    pub failures_per_s: f64,
    pub avg_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub median_ms: f64,
    pub avg_content_bytes: f64,
    pub percentiles_ms: Percentiles,
    /// The exact response times, HdrHistogram V2 + DEFLATE in base64 (µs,
    /// 1 µs to 1 h, 3 digits); absent for the open model's service times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}

impl From<&StatsRow> for Endpoint {
    fn from(r: &StatsRow) -> Self {
        Self {
            method: r.method.clone(),
            name: r.name.clone(),
            requests: r.requests,
            failures: r.failures,
            fail_ratio: r.fail_ratio(),
            rps: r.rps,
            failures_per_s: r.fail_per_s,
            avg_ms: r.avg_ms,
            min_ms: r.min_ms,
            max_ms: r.max_ms,
            median_ms: r.median_ms,
            avg_content_bytes: r.avg_content,
            percentiles_ms: Percentiles::from_slice(&r.percentiles_ms),
            histogram: None,
        }
    }
}

/// `row` with the histogram of `stats`.
fn with_histogram(row: &StatsRow, stats: Option<&EndpointStats>) -> Endpoint {
    let mut e = Endpoint::from(row);
    e.histogram = stats
        .and_then(|s| s.encode_histogram().ok())
        .map(|bytes| STANDARD.encode(bytes));
    e
}

/// A failure group.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub method: String,
    pub name: String,
    pub error: String,
    pub occurrences: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// An error that kept a request from being sent.
#[derive(Debug, Clone, Serialize)]
pub struct Exception {
    pub message: String,
    pub count: u64,
}

/// One endpoint over one history tick.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointTick {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub avg_ms: f64,
    pub percentiles_ms: Percentiles,
    pub total: Cumulative,
}

/// One history tick (about a second).
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub time: String,
    pub unix_ms: i64,
    pub users: u64,
    pub target_users: u64,
    /// Open model: the iterations per second asked for (null otherwise).
    pub target_rate: Option<f64>,
    pub iterations_per_s: f64,
    pub dropped_iterations_per_s: f64,
    pub rps: f64,
    pub failures_per_s: f64,
    pub avg_ms: f64,
    pub percentiles_ms: Percentiles,
    pub total: Cumulative,
    pub endpoints: Vec<EndpointTick>,
}

impl From<&HistoryPoint> for Tick {
    fn from(p: &HistoryPoint) -> Self {
        Self {
            time: rfc3339_ms(p.unix_ms),
            unix_ms: p.unix_ms,
            users: p.users,
            target_users: p.target_users,
            target_rate: p.target_rate,
            iterations_per_s: p.iterations_per_s,
            dropped_iterations_per_s: p.dropped_per_s,
            rps: p.rps,
            failures_per_s: p.fail_per_s,
            avg_ms: p.avg_ms,
            percentiles_ms: Percentiles::from_slice(&p.percentiles_ms),
            total: p.total.clone(),
            endpoints: p
                .endpoints
                .iter()
                .map(|e| EndpointTick {
                    method: e.key.method.clone(),
                    name: e.key.name.clone(),
                    requests: e.requests,
                    failures: e.failures,
                    avg_ms: e.avg_ms,
                    percentiles_ms: Percentiles::from_slice(&e.percentiles_ms),
                    total: e.total.clone(),
                })
                .collect(),
        }
    }
}

/// What ran.
#[derive(Debug, Clone, Serialize)]
pub struct RunMeta {
    pub tool: String,
    pub scenario: String,
    pub host: String,
    pub users: u64,
    pub spawn_rate: f64,
    pub workers: usize,
    pub started: String,
    pub ended: String,
    pub duration_s: f64,
    pub stop_reason: &'static str,
    pub load: Load,
}

/// How the load was shaped: `model` is `users`, `stages` or `arrival_rate`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Load {
    /// A user count and spawn rate (`run.users`, `run.spawn_rate`).
    Users,
    /// Target users over time, from 0.
    Stages { stages: Vec<UserStage> },
    /// The open model: iterations per second over time, from `start_rate`.
    ArrivalRate {
        start_rate: f64,
        stages: Vec<RateStage>,
        max_users: u64,
    },
    /// Target users from a script function of the elapsed time.
    Shape { function: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct UserStage {
    pub duration_s: f64,
    pub target_users: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RateStage {
    pub duration_s: f64,
    /// Iterations per second at the stage's end.
    pub target_rate: f64,
}

impl From<&LoadModel> for Load {
    fn from(m: &LoadModel) -> Self {
        match m {
            LoadModel::Users => Load::Users,
            LoadModel::Stages(st) => Load::Stages {
                stages: st
                    .stages()
                    .iter()
                    .map(|s| UserStage {
                        duration_s: s.duration.as_secs_f64(),
                        target_users: s.target,
                    })
                    .collect(),
            },
            LoadModel::Arrival(a) => Load::ArrivalRate {
                start_rate: a.shape.start().per_second(),
                stages: a
                    .shape
                    .stages()
                    .iter()
                    .map(|s| RateStage {
                        duration_s: s.duration.as_secs_f64(),
                        target_rate: s.target.per_second(),
                    })
                    .collect(),
                max_users: a.max_users,
            },
            LoadModel::Code(f) => Load::Shape {
                function: f.clone(),
            },
        }
    }
}

/// Iterations of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Iterations {
    /// Completed (a pass of a sequence, or a weighted task).
    pub completed: u64,
    pub per_s: f64,
    /// Open model: due but not started, all users busy (k6's dropped_iterations).
    pub dropped: u64,
}

/// Open model: the uncorrected service times (from sending each request),
/// beside `stats`/`total`, which count from each iteration's intended start.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceTime {
    pub stats: Vec<Endpoint>,
    pub total: Endpoint,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct JsonReport {
    pub schema: &'static str,
    pub run: RunMeta,
    pub passed: bool,
    pub thresholds: Vec<Verdict>,
    pub stats: Vec<Endpoint>,
    pub total: Endpoint,
    pub failures: Vec<Failure>,
    pub exceptions: Vec<Exception>,
    pub iterations: Iterations,
    /// Open model only (null otherwise).
    pub service_time: Option<ServiceTime>,
    pub history: Vec<Tick>,
    /// Times the master was away mid-run (it resumed from its state dir).
    pub outages: Vec<OutageJson>,
}

/// One time the master was away.
#[derive(Debug, Clone, Serialize)]
pub struct OutageJson {
    pub start: String,
    pub start_unix_ms: i64,
    pub length_s: f64,
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(unix_ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// RFC 3339 UTC with milliseconds, of a time.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl JsonReport {
    /// Builds the report of a finished run.
    pub fn new(r: &RunReport) -> Self {
        let s = &r.snapshot;
        Self {
            schema: SCHEMA,
            run: RunMeta {
                tool: format!("stampede {}", env!("CARGO_PKG_VERSION")),
                scenario: r.scenario.clone(),
                host: r.host.clone(),
                users: r.users,
                spawn_rate: r.spawn_rate,
                workers: r.workers,
                started: rfc3339(r.started),
                ended: rfc3339(r.ended),
                duration_s: r
                    .ended
                    .duration_since(r.started)
                    .unwrap_or_default()
                    .as_secs_f64(),
                stop_reason: r.reason.as_str(),
                load: Load::from(&r.load),
            },
            passed: r.passed(),
            thresholds: r.verdicts.clone(),
            stats: s
                .rows
                .iter()
                .map(|row| {
                    let key = StatsKey::new(row.method.as_str(), row.name.as_str());
                    with_histogram(row, r.stats.endpoints().get(&key))
                })
                .collect(),
            total: with_histogram(&s.total, Some(r.stats.total())),
            failures: s
                .failures
                .iter()
                .map(|(k, e)| Failure {
                    method: k.key.method.clone(),
                    name: k.key.name.clone(),
                    error: k.error.clone(),
                    occurrences: e.occurrences,
                    first_seen: rfc3339(e.first_seen),
                    last_seen: rfc3339(e.last_seen),
                })
                .collect(),
            exceptions: s
                .exceptions
                .iter()
                .map(|(m, n)| Exception {
                    message: m.clone(),
                    count: *n,
                })
                .collect(),
            iterations: Iterations {
                completed: s.iterations,
                per_s: s.iterations as f64 / s.elapsed_s,
                dropped: s.dropped_iterations,
            },
            service_time: s.service_total.as_ref().map(|t| ServiceTime {
                stats: s.service_rows.iter().map(Endpoint::from).collect(),
                total: Endpoint::from(t),
            }),
            history: r.stats.history().iter().map(Tick::from).collect(),
            outages: r
                .outages
                .iter()
                .map(|o| OutageJson {
                    start: rfc3339_ms(o.start_ms),
                    start_unix_ms: o.start_ms,
                    length_s: o.length_ms as f64 / 1000.0,
                })
                .collect(),
        }
    }

    /// Pretty JSON text.
    pub fn to_string_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
