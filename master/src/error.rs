//! [`MasterError`]: why the master could not do what it was asked.

use stampede_common::duration::format_duration;

use crate::plan::PlanError;

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// The plan does not fit the scenario.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Fewer workers than expected connected in time.
    #[error("only {got} of {want} expected workers connected within {}", format_duration(*waited))]
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
    /// The previous run has not finished stopping.
    #[error("the previous run is still stopping")]
    Stopping,
    /// No run is going.
    #[error("no run is in progress")]
    NotRunning,
    /// A user count was asked of a run whose shape sets its load.
    #[error(
        "the run follows its load shape (`stages` or `arrival_rate`): its users cannot be changed"
    )]
    Shaped,
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
