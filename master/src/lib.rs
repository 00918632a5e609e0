//! Orchestration: splitting users over workers ([`plan`]), driving them and
//! merging their statistics. [`local`] is the in-process coordinator of
//! standalone runs.

pub mod local;
pub mod plan;

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
}
