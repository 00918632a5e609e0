//! A finished run as the user sees it: [`RunReport`], the end-of-run summary
//! in Locust's tables with the threshold verdicts, and the files: Locust's
//! CSV ([`csv`]), the JSON report ([`json`]) and the HTML report ([`html`]),
//! whose style, formats and escaping (`page`) and XY line charts ([`plot`])
//! other pages use too.

pub mod csv;
pub mod html;
pub mod json;
pub mod junit;
pub mod live;
pub mod markdown;
pub(crate) mod page;
pub mod plot;

use std::time::SystemTime;

use stampede_common::duration::format_duration;
use stampede_common::stats::{RunStats, Snapshot, table};
use stampede_common::thresholds::{Verdict, evaluate};

use crate::run::RunPlan;
pub use crate::run::{LoadModel, StopReason};
pub use crate::state::Outage;

/// What the workers measured of a run (so far, or in all).
#[derive(Debug, Clone)]
pub struct FinishedRun {
    /// The merged statistics.
    pub stats: RunStats,
    /// When it started.
    pub started: SystemTime,
    /// When the last worker stopped (or now, for a run going).
    pub ended: SystemTime,
    /// Workers that took part.
    pub workers: usize,
    /// Times the master was away (resumed from its state dir).
    pub outages: Vec<Outage>,
}

/// A finished run.
#[derive(Debug)]
pub struct RunReport {
    /// Run id.
    pub id: u64,
    /// Only these classes took part (all when empty).
    pub classes: Vec<String>,
    /// How the load was shaped.
    pub load: LoadModel,
    /// Scenario name.
    pub scenario: String,
    /// Target host.
    pub host: String,
    /// Users asked for.
    pub users: u64,
    /// Spawn rate asked for.
    pub spawn_rate: f64,
    /// Workers that took part.
    pub workers: usize,
    /// When load started.
    pub started: SystemTime,
    /// When the last user stopped.
    pub ended: SystemTime,
    /// Why it ended.
    pub reason: StopReason,
    /// All merged statistics.
    pub stats: RunStats,
    /// The final table.
    pub snapshot: Snapshot,
    /// Threshold verdicts on the final numbers.
    pub verdicts: Vec<Verdict>,
    /// Times the master was away (resumed from its state dir).
    pub outages: Vec<Outage>,
}

impl RunReport {
    /// The report of run `id` of `plan` (finished, or so far), judged
    /// against its thresholds.
    pub fn new(id: u64, plan: &RunPlan, finished: FinishedRun, reason: StopReason) -> Self {
        let snapshot = finished.stats.snapshot(finished.ended);
        let verdicts = evaluate(&plan.thresholds, &snapshot);
        Self {
            id,
            classes: plan.classes.clone(),
            load: plan.load.clone(),
            scenario: plan.scenario.name.clone(),
            host: plan.settings.target.to_string(),
            users: plan.users,
            spawn_rate: plan.spawn_rate,
            workers: finished.workers,
            started: finished.started,
            ended: finished.ended,
            reason,
            stats: finished.stats,
            snapshot,
            verdicts,
            outages: finished.outages,
        }
    }

    /// Whether every threshold held.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed)
    }
}

/// The open model's lines: iterations run and dropped, and the uncorrected
/// service times beside the corrected response times of the tables above.
fn open_model_summary(s: &Snapshot) -> String {
    let mut out = format!(
        "\n\nOpen model: {} iterations ({:.1}/s), {} dropped (no free user within --max-users)\n\
         Response times above count from each iteration's intended start (corrected for coordinated omission).\n",
        s.iterations,
        s.iterations as f64 / s.elapsed_s,
        s.dropped_iterations,
    );
    if let Some(t) = &s.service_total {
        let p = |q: usize| t.percentiles_ms.get(q).copied().unwrap_or(0.0);
        out.push_str(&format!(
            "Service time (from sending each request, uncorrected): avg {:.1} ms, p50 {} ms, p95 {} ms, p99 {} ms, max {} ms\n",
            t.avg_ms,
            p(0),
            p(5),
            p(7),
            t.max_ms
        ));
    }
    out
}

/// The end-of-run summary: the request table, percentiles and failures.
pub fn render_summary(r: &RunReport) -> String {
    let s = &r.snapshot;
    let load = match &r.load {
        LoadModel::Arrival(a) => format!(
            "arrival rate up to {} (at most {} users)",
            a.shape.peak(),
            a.max_users
        ),
        _ => format!("{} users", r.users),
    };
    let mut out = format!(
        "scenario {} against {}: {load} for {}, {} requests, {} failures ({:.2}%), {:.1} req/s\n\n",
        r.scenario,
        r.host,
        format_duration(r.ended.duration_since(r.started).unwrap_or_default()),
        s.total.requests,
        s.total.failures,
        s.total.fail_ratio() * 100.0,
        s.total.rps,
    );
    for o in &r.outages {
        out.push_str(&format!(
            "master outage: {:.1} s from {} (resumed from its state dir; the workers measured through it)\n\n",
            o.length_ms as f64 / 1000.0,
            json::rfc3339_ms(o.start_ms)
        ));
    }
    out.push_str(&table::render_stats(s, table::Rates::Run));
    out.push_str("\n\nResponse time percentiles (ms, exact to 3 significant digits)\n");
    out.push_str(&table::render_percentiles(s));
    if let LoadModel::Arrival(_) = &r.load {
        out.push_str(&open_model_summary(s));
    }
    if let Some(f) = table::render_failures(s) {
        out.push_str("\n\nFailures\n");
        out.push_str(&f);
    }
    if !s.exceptions.is_empty() {
        out.push_str("\n\nErrors (no request sent)\n");
        for (msg, n) in &s.exceptions {
            out.push_str(&format!("{n:>8}  {msg}\n"));
        }
    }
    if !r.verdicts.is_empty() {
        let failed = r.verdicts.iter().filter(|v| !v.passed).count();
        out.push_str(&format!(
            "\n\nThresholds: {} of {} passed\n",
            r.verdicts.len() - failed,
            r.verdicts.len()
        ));
        for v in &r.verdicts {
            out.push_str(&format!("  {v}\n"));
        }
        if r.reason == StopReason::ThresholdAborted {
            out.push_str(
                "  the run was stopped early because a threshold with abort_on_fail was lost\n",
            );
        }
    }
    out
}
