//! The master: what a run is ([`run`]: plan, template, driver), how users
//! are split over workers ([`plan`]), the cluster master that drives the
//! workers over gRPC and merges their statistics ([`cluster`]), the reports
//! ([`report`]), the web UI ([`web`]), Prometheus metrics ([`metrics`]), and
//! master plus workers in one process ([`standalone`]).

pub mod capacity;
pub mod cluster;
pub mod compare;
mod error;
mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod run;
pub mod standalone;
pub mod state;
pub mod tasks;
pub mod web;

pub use error::MasterError;
