//! Orchestration: splitting users over workers ([`plan`]), driving them and
//! merging their statistics. [`cluster`] is the gRPC master of a cluster
//! of workers; [`standalone`] runs master and workers in one process.

pub mod cluster;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod standalone;
pub mod web;

use stampede_worker::WorkerError;

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// The plan does not fit the scenario.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// The engine could not start or stopped.
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// Fewer workers than expected connected in time.
    #[error("only {got} of {want} expected workers connected within {}", stampede_common::duration::format_duration(*waited))]
    NoWorkers {
        /// Expected.
        want: usize,
        /// Connected.
        got: usize,
        /// How long the master waited.
        waited: std::time::Duration,
    },
    /// A run is already going.
    #[error("a run is already in progress")]
    Busy,
    /// No run is going.
    #[error("no run is in progress")]
    NotRunning,
    /// A user count was asked of an arrival-rate run.
    #[error("an arrival-rate run has no user count to change: its schedule sets the load")]
    OpenModel,
    /// Stopped before the run could start.
    #[error("interrupted before the run started")]
    Interrupted,
    /// The master's actor is gone.
    #[error("the master has shut down")]
    Gone,
    /// The loopback listener of a standalone run.
    #[error("cannot bind a loopback port: {0}")]
    Bind(String),
    /// Unusable TLS certificate or key.
    #[error("tls: {0}")]
    Tls(String),
}
