//! A headless run: wait for the expected workers, start the plan, print the
//! live table with the workers while the master drives the run, stop it on
//! a signal, and return its report; meanwhile keep the results so far on
//! disk (`crate::report::live`). The run's end (run time, shape, lost
//! thresholds) is the master's driver's; this loop only watches.

use std::sync::Arc;
use std::time::Duration;

use stampede_common::duration::format_duration;
use stampede_common::stats::table;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{ClusterView, MasterHandle};
use crate::MasterError;
use crate::report::live::{LiveOutputs, LiveWriter};
use crate::report::{RunReport, StopReason};
use crate::run::RunPlan;
use crate::state::Durable;

/// How a headless run waits and prints.
#[derive(Debug, Clone)]
pub struct HeadlessConfig {
    /// Start once this many workers are connected.
    pub expect_workers: usize,
    /// Give up waiting for them after this long (`None`: wait until stopped).
    pub expect_workers_max_wait: Option<Duration>,
    /// What to show and keep while the run goes.
    pub watch: Watch,
    /// The state dir the run keeps (and the run it resumes).
    pub durable: Option<Durable>,
}

/// What a headless run shows and keeps while it goes.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// Print the live table this often (to stderr).
    pub print_interval: Option<Duration>,
    /// Results to keep on disk while the run goes.
    pub live: LiveOutputs,
}

/// Runs `plan` on the cluster behind `master` until it ends or `shutdown`.
///
/// # Errors
///
/// Not enough workers in time, stopped before the start, or a plan the
/// scenario refuses.
pub async fn run_headless(
    master: &MasterHandle,
    plan: RunPlan,
    cfg: HeadlessConfig,
    shutdown: CancellationToken,
) -> Result<Arc<RunReport>, MasterError> {
    let resuming = cfg.durable.as_ref().is_some_and(|d| d.resumed.is_some());
    // A resumed run goes on at once: its workers are reconnecting with
    // reports that belong to it.
    if !resuming {
        let want = cfg.expect_workers.max(1);
        info!(workers = want, "waiting for workers");
        master
            .wait_for_workers(want, cfg.expect_workers_max_wait, &shutdown)
            .await?;
    }
    let id = master.start_durable(plan, cfg.durable.clone()).await?;
    let mut print = cfg.watch.print_interval.map(|every| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut live = match cfg.watch.live.is_empty() {
        true => None,
        false => LiveWriter::open(cfg.watch.live.clone())
            .map_err(|e| tracing::warn!(error = %e, "results will be written only at the end"))
            .ok(),
    };
    let mut each_second = tokio::time::interval(Duration::from_secs(1));
    each_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let finished = master.wait_finished(id);
    tokio::pin!(finished);
    let done = |report: Result<Arc<RunReport>, MasterError>, live: Option<LiveWriter>| {
        if let (Ok(r), Some(mut live)) = (&report, live) {
            live.finish(r);
        }
        report
    };
    loop {
        tokio::select! {
            report = &mut finished => return done(report, live),
            _ = each_second.tick(), if live.is_some() => {
                if let Some(live) = live.as_mut() {
                    live.tick(master).await;
                }
            }
            _ = async { print.as_mut().expect("guarded").tick().await }, if print.is_some() => {
                eprintln!("{}", live_view(&master.view().await?));
            }
            _ = shutdown.cancelled() => {
                // The run may have ended meanwhile: its report comes either way.
                let _ = master.stop(StopReason::Interrupted).await;
                return done(finished.await, live);
            }
        }
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
            table::render_stats(s, table::Rates::Current)
        ));
    }
    out
}
