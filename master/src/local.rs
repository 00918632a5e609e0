//! The in-process coordinator of `stampede run`: one engine in this process,
//! driven exactly as the master drives a worker (a target set of users and a
//! spawn rate), its intervals merged each second into the run's statistics,
//! the live table printed, and the run ended by its run time or a signal.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use stampede_common::duration::format_duration;
use stampede_common::scenario::Scenario;
use stampede_common::stats::{RunStats, Snapshot, table};
use stampede_worker::{Engine, EngineConfig};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::MasterError;
use crate::plan::{assign_classes, select_classes, split};

/// How often workers' intervals are merged and a history point is closed.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// What to run, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Peak concurrent users.
    pub users: u64,
    /// Users started (or stopped) per second.
    pub spawn_rate: f64,
    /// Stop after this long; `None` runs until interrupted.
    pub run_time: Option<Duration>,
    /// Only these classes (all when empty).
    pub classes: Vec<String>,
    /// Engine settings.
    pub engine: EngineConfig,
    /// Print the live table this often (to stderr); `None` for quiet.
    pub print_interval: Option<Duration>,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The run time elapsed.
    RunTime,
    /// Ctrl-C, SIGTERM or a stop request.
    Interrupted,
}

/// A finished run.
#[derive(Debug)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Target host.
    pub host: String,
    /// Users asked for.
    pub users: u64,
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
}

/// Runs a scenario in this process until its run time or `shutdown`.
///
/// # Errors
///
/// Unknown classes, or an engine that cannot start (no host, bad TLS setup).
pub async fn run_local(
    scenario: Arc<Scenario>,
    cfg: RunConfig,
    shutdown: CancellationToken,
) -> Result<RunReport, MasterError> {
    let selected = select_classes(&scenario, &cfg.classes)?;
    let host = cfg
        .engine
        .host
        .clone()
        .or_else(|| scenario.host.clone())
        .unwrap_or_default();
    let engine = Engine::start(scenario.clone(), cfg.engine.clone())?;
    let classes = assign_classes(&scenario, &selected, cfg.users);
    let mut parts = split(&classes, 1);
    engine.set_target(parts.remove(0), cfg.spawn_rate).await?;
    info!(users = cfg.users, spawn_rate = cfg.spawn_rate, host = %host, "run started");

    let started = SystemTime::now();
    let start = Instant::now();
    let mut stats = RunStats::new(started);
    let mut ticker = tokio::time::interval_at(start + REPORT_INTERVAL, REPORT_INTERVAL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_print = start;
    let deadline = cfg.run_time.map(|d| start + d);
    let reason = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let now = SystemTime::now();
                stats.add(&engine.take_stats(), now);
                stats.tick(now, engine.users() as u64);
                if let Some(every) = cfg.print_interval
                    && last_print.elapsed() + Duration::from_millis(50) >= every
                {
                    last_print = Instant::now();
                    eprintln!("{}", live_view(&stats, engine.users(), now));
                }
            }
            _ = sleep_until_opt(deadline) => break StopReason::RunTime,
            _ = shutdown.cancelled() => break StopReason::Interrupted,
        }
    };
    info!(reason = ?reason, "stopping users");
    engine.stop_all().await?;
    let ended = SystemTime::now();
    stats.add(&engine.take_stats(), ended);
    stats.tick(ended, 0);
    let snapshot = stats.snapshot(ended);
    Ok(RunReport {
        scenario: scenario.name.clone(),
        host,
        users: cfg.users,
        started,
        ended,
        reason,
        stats,
        snapshot,
    })
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn live_view(stats: &RunStats, users: usize, now: SystemTime) -> String {
    let snap = stats.snapshot(now);
    format!(
        "[{}] users: {users}, requests: {}, failures: {}, current rps: {:.1}\n{}",
        format_duration(Duration::from_secs_f64(snap.elapsed_s.floor())),
        snap.total.requests,
        snap.total.failures,
        snap.total.current_rps,
        table::render_stats(&snap)
    )
}

/// The end-of-run summary: the request table, percentiles and failures.
pub fn render_summary(r: &RunReport) -> String {
    let s = &r.snapshot;
    let mut out = format!(
        "scenario {} against {}: {} users for {}, {} requests, {} failures ({:.2}%), {:.1} req/s\n\n",
        r.scenario,
        r.host,
        r.users,
        format_duration(r.ended.duration_since(r.started).unwrap_or_default()),
        s.total.requests,
        s.total.failures,
        s.total.fail_ratio() * 100.0,
        s.total.rps,
    );
    out.push_str(&table::render_stats(s));
    out.push_str("\n\nResponse time percentiles (ms, exact to 3 significant digits)\n");
    out.push_str(&table::render_percentiles(s));
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
    out
}
