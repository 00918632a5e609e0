//! A finished run as the user sees it: [`RunReport`] and the end-of-run
//! summary in Locust's tables.

use std::time::SystemTime;

use stampede_common::duration::format_duration;
use stampede_common::stats::{RunStats, Snapshot, table};

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
