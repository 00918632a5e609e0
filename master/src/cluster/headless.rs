//! A headless cluster run: wait for the expected workers, start, print the
//! live table with the workers, stop at the run time or on a signal, and
//! return the merged report.

use std::time::Duration;

use stampede_common::duration::format_duration;
use stampede_common::stats::table;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::info;

use stampede_common::shape::Stages;
use stampede_common::thresholds::{Threshold, evaluate};
use tracing::warn;

use super::{ClusterView, MasterHandle, RunPlan};
use crate::MasterError;
use crate::report::{LoadModel, RunReport, StopReason};

/// How a headless cluster run goes.
#[derive(Debug, Clone)]
pub struct HeadlessConfig {
    /// Start once this many workers are connected.
    pub expect_workers: usize,
    /// Give up waiting for them after this long (`None`: wait until stopped).
    pub expect_workers_max_wait: Option<Duration>,
    /// Stop after this long.
    pub run_time: Option<Duration>,
    /// Print the live table this often (to stderr).
    pub print_interval: Option<Duration>,
    /// Pass/fail criteria: judged on the final numbers, and every second for
    /// those with `abort_on_fail`.
    pub thresholds: Vec<Threshold>,
    /// Follow this shape instead of the plan's users and spawn rate; the run
    /// ends with the shape (or at `run_time` if that comes first).
    pub stages: Option<Stages>,
}

/// Runs `plan` on the cluster behind `master` until its run time or `shutdown`.
///
/// # Errors
///
/// Not enough workers in time, or a plan the scenario refuses.
pub async fn run_headless(
    master: &MasterHandle,
    plan: RunPlan,
    cfg: HeadlessConfig,
    shutdown: CancellationToken,
) -> Result<RunReport, MasterError> {
    let want = cfg.expect_workers.max(1);
    info!(workers = want, "waiting for workers");
    let wait = master.wait_for_workers(want);
    let waited = match cfg.expect_workers_max_wait {
        Some(max) => tokio::select! {
            r = tokio::time::timeout(max, wait) => r.map_err(|_| MasterError::NoWorkers { want, got: master.connected(), waited: max })?,
            _ = shutdown.cancelled() => return Err(MasterError::Interrupted),
        },
        None => tokio::select! {
            r = wait => r,
            _ = shutdown.cancelled() => return Err(MasterError::Interrupted),
        },
    };
    waited?;

    let abort_on: Vec<Threshold> = cfg
        .thresholds
        .iter()
        .filter(|t| t.abort_on_fail)
        .cloned()
        .collect();
    let mut plan = plan;
    if cfg.stages.is_some() {
        plan.users = 0;
    }
    master.start(plan.clone()).await?;
    let start = Instant::now();
    // A shape ends the run when it ends (or the run time, if that comes first).
    let shape_end = cfg
        .stages
        .as_ref()
        .map(Stages::total)
        .or_else(|| plan.arrival.as_ref().map(|a| a.shape.total()));
    let run_time = match (shape_end, cfg.run_time) {
        (Some(end), Some(t)) => Some(t.min(end)),
        (end, t) => end.or(t),
    };
    let deadline = run_time.map(|d| start + d);
    let mut shape_users = 0u64;
    let mut last_print = start;
    let reason = loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                if let Some((users, rate)) = cfg.stages.as_ref().and_then(|st| st.command_at(start.elapsed()))
                    && users != shape_users
                {
                    shape_users = users;
                    master.set_users(users, rate).await?;
                }
                let printing = cfg.print_interval.is_some_and(|every| last_print.elapsed() >= every);
                if !printing && abort_on.is_empty() {
                    continue;
                }
                let view = master.view().await?;
                if printing {
                    last_print = Instant::now();
                    eprintln!("{}", live_view(&view));
                }
                if let Some(lost) = lost_abort_threshold(&abort_on, &view, start.elapsed()) {
                    warn!(threshold = %lost, "a threshold with abort_on_fail was lost; stopping the run");
                    break StopReason::ThresholdAborted;
                }
            }
            _ = sleep_until_opt(deadline) => break StopReason::RunTime,
            _ = shutdown.cancelled() => break StopReason::Interrupted,
        }
    };
    let finished = master.stop().await?.ok_or(MasterError::NotRunning)?;
    let mut report = RunReport::new(finished, &plan, &cfg.thresholds, reason);
    if let Some(st) = cfg.stages {
        report.load = LoadModel::Stages(st);
    }
    Ok(report)
}

/// The first `abort_on_fail` threshold that is lost, past its delay.
fn lost_abort_threshold(
    abort_on: &[Threshold],
    view: &ClusterView,
    elapsed: Duration,
) -> Option<String> {
    let snap = &view.run.as_ref()?.snapshot;
    let due: Vec<Threshold> = abort_on
        .iter()
        .filter(|t| elapsed >= t.delay_abort_eval)
        .cloned()
        .collect();
    evaluate(&due, snap)
        .into_iter()
        .find(|v| !v.passed && v.actual.is_some())
        .map(|v| v.threshold)
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The workers table followed by the merged stats table.
pub fn live_view(v: &ClusterView) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_header(vec![
            "Worker",
            "Host",
            "State",
            "Users",
            "CPU",
            "Last heartbeat",
        ]);
    for w in &v.workers {
        t.add_row(vec![
            w.id.clone(),
            w.hostname.clone(),
            format!("{:?}", w.state).to_lowercase(),
            w.users.to_string(),
            format!("{:.0}%", w.cpu_percent),
            format!("{} ago", format_duration(w.last_heard)),
        ]);
    }
    let mut out = t.to_string();
    if let Some(run) = &v.run {
        let s = &run.snapshot;
        let users: u64 = v.workers.iter().map(|w| w.users).sum();
        out.push_str(&format!(
            "\n[{}] run {}: users {users}/{}, requests: {}, failures: {}, current rps: {:.1}\n{}",
            format_duration(Duration::from_secs_f64(s.elapsed_s.floor())),
            run.id,
            run.users,
            s.total.requests,
            s.total.failures,
            s.total.current_rps,
            table::render_stats(s)
        ));
    }
    out
}
