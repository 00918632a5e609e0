//! Capacity search (`--capacity` on `run` and `master`): the highest arrival
//! rate at which a target holds every threshold. Each step is a run of its
//! own on the open model at one constant rate for the step time, driven and
//! reported like any run (so it works standalone and on a cluster alike);
//! [`search`] picks the rates, [`run`] runs the steps on a master, and
//! [`report`] writes what they found (summary, JSON `stampede-capacity/1`,
//! Markdown, JUnit) with [`html`] for the chart of latency and errors
//! against rate. This module owns what a capacity search is and how a step
//! is judged.

pub mod html;
pub mod report;
pub mod run;
pub mod search;

use std::sync::Arc;
use std::time::Duration;

use stampede_common::shape::{ArrivalRate, ArrivalShape, Rate};

pub use report::{CapacityReport, StepReport};
pub use run::run_capacity;
pub use search::{End, Phase, Search, SearchConfig};

use crate::report::RunReport;
use crate::run::{LoadModel, RunPlan};

/// A step whose share of dropped iterations (due, but no free user within
/// the max users) is above this did not hold its rate.
pub const MAX_DROPPED: f64 = 0.01;

/// Everything a capacity search needs, checked once.
#[derive(Debug, Clone)]
pub struct CapacityPlan {
    /// What every step runs: scenario, target, settings, thresholds (its
    /// load and run time are replaced per step).
    pub base: RunPlan,
    /// Which rates to try.
    pub search: SearchConfig,
    /// How long each step keeps its rate.
    pub step_time: Duration,
    /// Most virtual users alive at once in a step, cluster-wide.
    pub max_users: u64,
    /// The whole search stops before a step that would end past this.
    pub run_time: Option<Duration>,
    /// The search fails (exit 1) when the capacity found is below this.
    pub min_capacity: Option<Rate>,
}

impl CapacityPlan {
    /// The run of one step: `rate` held for the step time.
    pub fn step(&self, rate: Rate) -> RunPlan {
        let shape = ArrivalShape::constant(rate, self.step_time)
            .expect("the step time was checked to be above 0");
        RunPlan {
            load: LoadModel::Arrival(ArrivalRate {
                shape,
                max_users: self.max_users,
            }),
            users: self.max_users,
            run_time: Some(self.step_time),
            ..self.base.clone()
        }
    }
}

/// Why a finished step did not hold, one line each; empty when it held.
pub fn judge(report: &RunReport) -> Vec<String> {
    let mut why: Vec<String> = report
        .verdicts
        .iter()
        .filter(|v| !v.passed)
        .map(|v| match v.actual {
            Some(a) => format!("{} (actual {a:.2}{})", v.threshold, v.unit),
            None => format!("{} (no requests)", v.threshold),
        })
        .collect();
    let s = &report.snapshot;
    let due = s.iterations + s.dropped_iterations;
    if due > 0 && s.dropped_iterations as f64 > due as f64 * MAX_DROPPED {
        let max_users = match &report.load {
            LoadModel::Arrival(a) => a.max_users,
            _ => report.users,
        };
        why.push(format!(
            "the rate was not held: {} of {due} iterations dropped (no free user within --max-users {max_users})",
            s.dropped_iterations
        ));
    }
    if due == 0 {
        why.push("no iteration ran".into());
    }
    why
}

/// A finished step: its rate, what it was for, and its run's report.
pub fn step_report(rate: Rate, phase: Phase, report: Arc<RunReport>) -> StepReport {
    let failed_because = judge(&report);
    StepReport {
        rate,
        phase,
        held: failed_because.is_empty(),
        failed_because,
        report,
    }
}
