//! What master and workers share: the scenario language (model, parser,
//! validation, templates), statistics on HDR histograms, human durations and
//! telemetry init.

pub mod duration;
pub mod scenario;
pub mod shape;
pub mod stats;
pub mod telemetry;
pub mod thresholds;
