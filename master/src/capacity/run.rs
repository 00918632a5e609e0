//! Runs a capacity search on a master: each step is a headless run of the
//! plan at the rate [`Search`] picks (`crate::cluster::headless`, the same
//! path as every run), judged when it ends; the search stops when it has
//! its answer, before a step that would end past the run time, or on a
//! signal.

use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::info;

use super::report::is_interrupted;
use super::{CapacityPlan, CapacityReport, End, Search, step_report};
use crate::MasterError;
use crate::cluster::MasterHandle;
use crate::cluster::headless::{HeadlessConfig, run_headless};

/// Runs the search of `plan` on the cluster behind `master` until it ends
/// or `shutdown`.
///
/// # Errors
///
/// Not enough workers in time for the first step, or a step the master
/// refuses.
pub async fn run_capacity(
    master: &MasterHandle,
    plan: &CapacityPlan,
    mut cfg: HeadlessConfig,
    shutdown: CancellationToken,
) -> Result<CapacityReport, MasterError> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut search = Search::new(plan.search.clone());
    let mut steps = Vec::new();
    let end = loop {
        if shutdown.is_cancelled() {
            break End::Interrupted;
        }
        let (rate, phase) = match search.next() {
            Ok(next) => next,
            Err(end) => break end,
        };
        if plan
            .run_time
            .is_some_and(|limit| clock.elapsed() + plan.step_time > limit)
        {
            break End::RunTime;
        }
        let n = steps.len() + 1;
        info!(step = n, %rate, phase = phase.as_str(), "capacity search: step starts");
        let report = run_headless(master, plan.step(rate), cfg.clone(), shutdown.clone()).await?;
        // Later steps go on with the workers there are: the rate is split
        // over them whatever their number.
        cfg.expect_workers = 1;
        let step = step_report(rate, phase, report);
        if is_interrupted(&step) || shutdown.is_cancelled() {
            steps.push(step);
            break End::Interrupted;
        }
        search.record(rate, step.held);
        let [_, p95, p99] = step.p50_p95_p99();
        let outcome = if step.held {
            "held".to_owned()
        } else {
            format!("did not hold: {}", step.failed_because.join("; "))
        };
        eprintln!(
            "capacity step {n} ({}): {rate}, achieved {:.1}/s, p95 {p95} ms, p99 {p99} ms, {:.2}% failed: {outcome}",
            phase.as_str(),
            step.achieved(),
            step.report.snapshot.total.fail_ratio() * 100.0,
        );
        steps.push(step);
    };
    Ok(CapacityReport::new(plan, steps, end, started))
}
