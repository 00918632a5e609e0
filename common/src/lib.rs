//! What master and workers share: the scenario language (model, parser,
//! validation, templates), the typed contract of a run ([`run`]), load shapes,
//! statistics on HDR histograms, thresholds, human durations and telemetry init.

pub mod duration;
#[doc(hidden)]
pub mod fuzzing;
pub mod run;
pub mod scenario;
pub mod shape;
pub mod stats;
pub mod telemetry;
pub mod thresholds;
