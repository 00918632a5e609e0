//! What the master shows of the cluster: the workers, the run in progress,
//! and the last finished run, as plain values the actor hands out.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use stampede_common::stats::Snapshot;

use crate::report::RunReport;

/// A worker as the master sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Connected, no run.
    Ready,
    /// Connected and taking part in the run.
    Running,
    /// Disconnected or silent.
    Missing,
}

/// One row of the workers table.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerInfo {
    /// Worker id.
    pub id: String,
    /// Its host name.
    pub hostname: String,
    /// Its CPU count.
    pub cores: u32,
    /// Its process's CPU use, percent of one core, from its last heartbeat.
    pub cpu_percent: f32,
    /// Ready, running or missing.
    pub state: WorkerState,
    /// Users it runs now.
    pub users: u64,
    /// Since its last message.
    pub last_heard: Duration,
}

/// The run in progress.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// Run id.
    pub id: u64,
    /// Target host.
    pub host: String,
    /// Target users now.
    pub users: u64,
    /// Spawn rate now.
    pub spawn_rate: f64,
    /// Only these classes (all when empty).
    pub classes: Vec<String>,
    /// `users`, `stages` or `arrival_rate`.
    pub model: &'static str,
    /// When it started.
    pub started: SystemTime,
    /// How long it runs in all (its run time or shape), if it ends by itself.
    pub length: Option<Duration>,
    /// Since it started.
    pub elapsed: Duration,
    /// A stop is under way.
    pub stopping: bool,
    /// Merged statistics so far.
    pub snapshot: Snapshot,
}

impl RunView {
    /// Time left before it ends by itself.
    pub fn remaining(&self) -> Option<Duration> {
        self.length.map(|l| l.saturating_sub(self.elapsed))
    }
}

/// The cluster at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    /// Every worker seen.
    pub workers: Vec<WorkerInfo>,
    /// The run, if any.
    pub run: Option<RunView>,
}

/// The last finished run of a master.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its id.
    pub run_id: u64,
    /// Its report.
    pub report: Arc<RunReport>,
}
