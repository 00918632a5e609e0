//! What a capacity search found: [`CapacityReport`] with every step, and its
//! renderings for people and CI: the terminal summary ([`render_summary`]),
//! the JSON document `stampede-capacity/1` ([`CapacityJson`], each step with
//! its full `stampede-report/2` run report), the Markdown summary
//! ([`markdown`]) and the JUnit test cases ([`junit_cases`]).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use stampede_common::duration::format_duration;
use stampede_common::shape::Rate;

use super::{CapacityPlan, End, Phase, SearchConfig};
use crate::report::RunReport;
use crate::report::json::{JsonReport, Percentiles, rfc3339};
use crate::report::junit::TestCase;
use crate::report::markdown::cell;

/// The schema identifier of the JSON document.
pub const SCHEMA: &str = "stampede-capacity/1";

/// One step: a run at one rate.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The rate it kept.
    pub rate: Rate,
    /// What it was for.
    pub phase: Phase,
    /// Every threshold held and the rate was kept.
    pub held: bool,
    /// Why it did not hold, one line each (`interrupted` for a step cut short).
    pub failed_because: Vec<String>,
    /// Its run.
    pub report: Arc<RunReport>,
}

impl StepReport {
    /// Iterations started per second while the step kept its rate (its
    /// step time, or less when it was stopped early).
    pub fn achieved(&self) -> f64 {
        let s = &self.report.snapshot;
        let kept = match &self.report.load {
            crate::run::LoadModel::Arrival(a) => s.elapsed_s.min(a.shape.total().as_secs_f64()),
            _ => s.elapsed_s,
        };
        if kept > 0.0 {
            s.iterations as f64 / kept
        } else {
            0.0
        }
    }

    fn percentile(&self, i: usize) -> f64 {
        let t = &self.report.snapshot.total;
        t.percentiles_ms.get(i).copied().unwrap_or(0.0)
    }

    /// p50, p95 and p99 of every request of the step, ms.
    pub fn p50_p95_p99(&self) -> [f64; 3] {
        [self.percentile(0), self.percentile(5), self.percentile(7)]
    }
}

/// A finished (or stopped) capacity search.
#[derive(Debug, Clone)]
pub struct CapacityReport {
    /// Scenario name.
    pub scenario: String,
    /// Target.
    pub host: String,
    /// Which rates it could try.
    pub search: SearchConfig,
    /// Each step's length.
    pub step_time: Duration,
    /// Most users of a step.
    pub max_users: u64,
    /// The bound on the whole search.
    pub run_time: Option<Duration>,
    /// The capacity below which the search fails.
    pub min_capacity: Option<Rate>,
    /// The thresholds every step was judged by, as written.
    pub thresholds: Vec<String>,
    /// In the order they ran.
    pub steps: Vec<StepReport>,
    /// Why it ended.
    pub end: End,
    /// The highest rate that held.
    pub held: Option<Rate>,
    /// The lowest rate that failed.
    pub failed: Option<Rate>,
    /// When the first step started.
    pub started: SystemTime,
    /// When the last ended.
    pub ended: SystemTime,
}

impl CapacityReport {
    /// The report of `steps` run for `plan`.
    pub fn new(plan: &CapacityPlan, steps: Vec<StepReport>, end: End, started: SystemTime) -> Self {
        let judged = || steps.iter().filter(|s| !is_interrupted(s));
        let held = judged().filter(|s| s.held).map(|s| s.rate).max();
        let failed = judged().filter(|s| !s.held).map(|s| s.rate).min();
        Self {
            scenario: plan.base.scenario.name.clone(),
            host: plan.base.settings.target.to_string(),
            search: plan.search.clone(),
            step_time: plan.step_time,
            max_users: plan.max_users,
            run_time: plan.run_time,
            min_capacity: plan.min_capacity,
            thresholds: plan
                .base
                .thresholds
                .iter()
                .map(|t| t.source.clone())
                .collect(),
            steps,
            end,
            held,
            failed,
            started,
            ended: SystemTime::now(),
        }
    }

    /// Whether a rate held, and (with a minimum capacity) at least that one.
    pub fn passed(&self) -> bool {
        match (self.held, self.min_capacity) {
            (None, _) => false,
            (Some(h), Some(min)) => h >= min,
            (Some(_), None) => true,
        }
    }

    /// The result in one sentence.
    pub fn verdict(&self) -> String {
        let failed = self.failed.map(|f| {
            let why = self
                .steps
                .iter()
                .find(|s| s.rate == f && !s.held)
                .and_then(|s| s.failed_because.first())
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            format!("; {f} did not{why}")
        });
        let failed = failed.unwrap_or_default();
        let mut out = match (self.end, self.held) {
            (End::MaxRateHeld, Some(h)) => {
                format!(
                    "capacity at least {h}: the highest rate allowed (--max-rate) held every threshold"
                )
            }
            (_, None) => format!("no rate held every threshold{failed}"),
            (End::Found, Some(h)) => {
                format!("capacity {h}: the highest rate that held every threshold{failed}")
            }
            (End::RunTime, Some(h)) => format!(
                "capacity at least {h} (the run time was up before the search narrowed to its precision){failed}"
            ),
            (_, Some(h)) => format!("capacity at least {h} (the search was interrupted){failed}"),
        };
        if let (Some(min), Some(h)) = (self.min_capacity, self.held)
            && h < min
        {
            let _ = write!(out, "; below --min-capacity {min}");
        }
        out
    }
}

/// Whether a step was cut short rather than judged.
pub fn is_interrupted(s: &StepReport) -> bool {
    s.report.reason == crate::report::StopReason::Interrupted
}

/// The end-of-search summary: the steps table and the verdict.
pub fn render_summary(r: &CapacityReport) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_header(vec![
            "Step",
            "Phase",
            "Rate/s",
            "Achieved/s",
            "Requests",
            "Fail %",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "Dropped",
            "Verdict",
        ]);
    for (i, s) in r.steps.iter().enumerate() {
        let snap = &s.report.snapshot;
        let [p50, p95, p99] = s.p50_p95_p99();
        let verdict = if s.held {
            "held".to_owned()
        } else {
            format!("failed: {}", s.failed_because.join("; "))
        };
        t.add_row(vec![
            (i + 1).to_string(),
            s.phase.as_str().to_owned(),
            format!("{}", s.rate.per_second()),
            format!("{:.1}", s.achieved()),
            snap.total.requests.to_string(),
            format!("{:.2}", snap.total.fail_ratio() * 100.0),
            format!("{p50}"),
            format!("{p95}"),
            format!("{p99}"),
            snap.dropped_iterations.to_string(),
            verdict,
        ]);
    }
    format!(
        "capacity search of {} against {}: {} steps of {} at most, up to {}, thresholds {}\n\n{t}\n\n{}\n",
        r.scenario,
        r.host,
        r.steps.len(),
        format_duration(r.step_time),
        r.search.max,
        r.thresholds.join(", "),
        r.verdict()
    )
}

/// The search's settings as the JSON document writes them.
#[derive(Debug, Clone, Serialize)]
pub struct SearchJson {
    pub start_rate: f64,
    pub max_rate: f64,
    pub increment: Option<f64>,
    pub precision: f64,
    pub step_time_s: f64,
    pub max_users: u64,
    pub run_time_s: Option<f64>,
    pub min_capacity: Option<f64>,
    pub thresholds: Vec<String>,
}

/// What the search found.
#[derive(Debug, Clone, Serialize)]
pub struct ResultJson {
    pub passed: bool,
    pub end: &'static str,
    /// The highest rate that held every threshold, per second.
    pub capacity: Option<f64>,
    /// The lowest rate that did not, per second.
    pub failed_rate: Option<f64>,
    pub verdict: String,
}

/// One step.
#[derive(Debug, Clone, Serialize)]
pub struct StepJson {
    pub index: usize,
    pub phase: &'static str,
    pub rate: f64,
    pub held: bool,
    pub interrupted: bool,
    pub failed_because: Vec<String>,
    pub achieved_rate: f64,
    pub rps: f64,
    pub fail_ratio: f64,
    pub dropped_iterations: u64,
    pub percentiles_ms: Percentiles,
    /// The step's whole run report (schema `stampede-report/2`).
    pub report: JsonReport,
}

/// The JSON document of a capacity search.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityJson {
    pub schema: &'static str,
    pub tool: String,
    pub scenario: String,
    pub host: String,
    pub started: String,
    pub ended: String,
    pub duration_s: f64,
    pub search: SearchJson,
    pub result: ResultJson,
    pub steps: Vec<StepJson>,
}

impl CapacityJson {
    /// The document of `r`.
    pub fn new(r: &CapacityReport) -> Self {
        Self {
            schema: SCHEMA,
            tool: format!("stampede {}", env!("CARGO_PKG_VERSION")),
            scenario: r.scenario.clone(),
            host: r.host.clone(),
            started: rfc3339(r.started),
            ended: rfc3339(r.ended),
            duration_s: r
                .ended
                .duration_since(r.started)
                .unwrap_or_default()
                .as_secs_f64(),
            search: SearchJson {
                start_rate: r.search.start.per_second(),
                max_rate: r.search.max.per_second(),
                increment: r.search.increment.map(Rate::per_second),
                precision: r.search.precision,
                step_time_s: r.step_time.as_secs_f64(),
                max_users: r.max_users,
                run_time_s: r.run_time.map(|t| t.as_secs_f64()),
                min_capacity: r.min_capacity.map(Rate::per_second),
                thresholds: r.thresholds.clone(),
            },
            result: ResultJson {
                passed: r.passed(),
                end: r.end.as_str(),
                capacity: r.held.map(Rate::per_second),
                failed_rate: r.failed.map(Rate::per_second),
                verdict: r.verdict(),
            },
            steps: r
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let report = JsonReport::new(&s.report);
                    StepJson {
                        index: i + 1,
                        phase: s.phase.as_str(),
                        rate: s.rate.per_second(),
                        held: s.held,
                        interrupted: is_interrupted(s),
                        failed_because: s.failed_because.clone(),
                        achieved_rate: s.achieved(),
                        rps: report.total.rps,
                        fail_ratio: report.total.fail_ratio,
                        dropped_iterations: report.iterations.dropped,
                        percentiles_ms: report.total.percentiles_ms.clone(),
                        report,
                    }
                })
                .collect(),
        }
    }

    /// Pretty JSON text.
    pub fn to_string_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// The search as Markdown, for a CI job's summary page.
pub fn markdown(r: &CapacityReport) -> String {
    let mark = if r.passed() { "passed" } else { "failed" };
    let mut out = format!(
        "### stampede capacity: `{}` ({mark})\n\n**{}**\n\nAgainst `{}`, steps of {} up to {}, judged by {}.\n\n",
        cell(&r.scenario),
        cell(&r.verdict()),
        cell(&r.host),
        format_duration(r.step_time),
        r.search.max,
        r.thresholds
            .iter()
            .map(|t| format!("`{}`", cell(t)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str(
        "| Step | Rate/s | Achieved/s | Requests | Fail % | p50 ms | p95 ms | p99 ms | Verdict |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (i, s) in r.steps.iter().enumerate() {
        let t = &s.report.snapshot.total;
        let [p50, p95, p99] = s.p50_p95_p99();
        let verdict = if s.held {
            "held".to_owned()
        } else {
            format!("failed: {}", cell(&s.failed_because.join("; ")))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {} | {:.2} | {p50} | {p95} | {p99} | {verdict} |",
            i + 1,
            s.rate.per_second(),
            s.achieved(),
            t.requests,
            t.fail_ratio() * 100.0
        );
    }
    out
}

/// The JUnit test cases: the search itself (a rate held, and at least
/// `--min-capacity`), then one per step.
pub fn junit_cases(r: &CapacityReport) -> Vec<TestCase> {
    let name = match r.min_capacity {
        Some(min) => format!("capacity at least {min}"),
        None => "a rate holds every threshold".to_owned(),
    };
    let mut cases = vec![TestCase {
        name,
        passed: r.passed(),
        message: r.verdict(),
    }];
    // A step above the capacity fails by design: a finding, not a failure
    // of the search, so each step is a passed case that says how it went.
    cases.extend(r.steps.iter().enumerate().map(|(i, s)| TestCase {
        name: if s.held {
            format!("step {}: {} held", i + 1, s.rate)
        } else {
            format!(
                "step {}: {} did not hold: {}",
                i + 1,
                s.rate,
                s.failed_because.join("; ")
            )
        },
        passed: true,
        message: String::new(),
    }));
    cases
}
